import * as fs from 'node:fs';
import * as path from 'node:path';
import { STREAMS, type AggregateEnvelope, type AlertEnvelope, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { generateMessages, type FaultSpec } from '@meterstream/simulator';
import { buildOnce, envelopesInLog, freePort, killProcessesWithEnv, makeTempDir, processesWithEnv, waitFor } from '@meterstream/test-harness';
import { expectedAggregates } from './expected-aggregates';
import { Launcher } from './launcher';

const LINES = 3;
const METERS = 5;
const WINDOW_MS = 60_000;
/** Idle lines close after this much ingest time without a reading (generous: a stall this long on a busy machine would close windows early too). */
const IDLE_TIMEOUT_MS = 10_000;
/**
 * The stop between the two runs: so much longer than the idle timeout that, taken for idleness,
 * it would move every line's watermark past the end of its open window (80 s > one window and
 * the out-of-orderness): the fix is then what keeps those windows from firing short.
 */
const DOWNTIME_MS = IDLE_TIMEOUT_MS + 80_000;
/** Labelled message faults that neither make readings late nor move a line's clock: the labels file grows in both runs. */
const FAULTS: FaultSpec[] = [
  { kind: 'malformed', probability: 0.003 },
  { kind: 'duplicate', probability: 0.003 },
];

/** The simulator's state file (simulator/src/publishing/run-state.ts). */
interface RunState {
  start: number;
  acknowledged: number;
  simTime: number;
}

const lineAggregates = (dataDir: string) => envelopesInLog<AggregateEnvelope>(dataDir, STREAMS.aggregates).filter((a) => a.body.deviceId === undefined);
const windowsOf = (dataDir: string, lineId: string) => lineAggregates(dataDir).filter((a) => a.body.lineId === lineId).length;

/**
 * `npm start` stopped with Ctrl-C and started again on the same data directory continues the
 * simulated fleet where it stopped: the readings after the restart are the ones an uninterrupted
 * run would have sent next (nothing late, nothing twice, nothing missing), the windows open at
 * the stop are fired once, complete, after the restart, and the labels file grows.
 */
describe('npm start, stopped and started again on the same data directory', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let launcher: Launcher;

  beforeAll(async () => {
    buildOnce();
    temp = makeTempDir('meterstream-restart-');
    fs.writeFileSync(path.join(temp.dir, 'faults.json'), JSON.stringify(FAULTS));
    launcher = new Launcher(
      temp.dir,
      await freePort(),
      await freePort(),
      ['--lines', String(LINES), '--meters-per-line', String(METERS), '--speed', '60', '--faults', path.join(temp.dir, 'faults.json')],
      { IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS) },
    );
  });

  afterAll(async () => {
    await launcher?.stop().catch(() => undefined);
    killProcessesWithEnv('DATA_DIR', temp.dir);
    temp.cleanup();
  });

  it('continues where it stopped: no late readings, no window fired early or missing, labels appended, no new alerts', async () => {
    const labelsFile = path.join(temp.dir, 'labels.jsonl');
    const stateFile = path.join(temp.dir, 'simulator-state.json');

    // First run: about 20 simulated minutes (at 60×), then Ctrl-C.
    await launcher.start();
    await waitFor(() => windowsOf(temp.dir, 'L01') >= 20, { what: '20 windows of L01 in the first run', timeoutMs: 180_000, intervalMs: 500 });
    expect(await launcher.stop()).toBe(0);
    expect(processesWithEnv('DATA_DIR', temp.dir)).toEqual([]);
    const first = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as RunState;
    const labelsBefore = fs.readFileSync(labelsFile, 'utf8');
    const windowsBefore = lineAggregates(temp.dir).length;
    const alertsBefore = envelopesInLog<AlertEnvelope>(temp.dir, STREAMS.alerts).map((a) => a.id);
    expect(labelsBefore.length).toBeGreaterThan(0);

    // Stopped for longer than the idle timeout: the downtime must not count as the lines being idle.
    await new Promise((resolve) => setTimeout(resolve, DOWNTIME_MS));

    await launcher.start();
    await waitFor(() => windowsOf(temp.dir, 'L01') >= 40, { what: '20 more windows of L01 after the restart', timeoutMs: 180_000, intervalMs: 500 });
    expect(launcher.output.join('')).toContain('continuing the run that started at');
    expect(await launcher.stop()).toBe(0);
    const second = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as RunState;

    // The same run, continued: same start, further along.
    expect(second.start).toBe(first.start);
    expect(second.acknowledged).toBeGreaterThan(first.acknowledged);

    // What one uninterrupted run would have sent up to where the second run stopped.
    const sent = [];
    for (const message of generateMessages({ seed: 42, lines: LINES, metersPerLine: METERS, intervalMs: 15_000, start: first.start, durationMs: Infinity, faults: FAULTS })) {
      if (sent.length === second.acknowledged) break;
      sent.push(message);
    }
    const expected = expectedAggregates(sent, WINDOW_MS);

    // Nothing late, no meter's clock judged ahead: the readings after the restart are where the fleet stopped.
    expect(envelopesInLog<ReadingEnvelope>(temp.dir, STREAMS.lateReadings)).toEqual([]);
    const deadLetters = envelopesInLog<DeadLetterEnvelope>(temp.dir, STREAMS.deadLetters);
    expect(deadLetters.length).toBe(sent.filter((m) => !m.valid).length);
    expect(deadLetters.filter((d) => /clock ahead/.test(d.body.reason))).toEqual([]);

    // Every window fired once and complete, none skipped across the stop.
    const aggregates = lineAggregates(temp.dir);
    expect(aggregates.length).toBeGreaterThan(windowsBefore);
    for (let i = 1; i <= LINES; i++) {
      const lineId = `L${String(i).padStart(2, '0')}`;
      const starts = aggregates.filter((a) => a.body.lineId === lineId).map((a) => a.body.windowStart);
      expect(new Set(starts).size).toBe(starts.length);
      const contiguous = Array.from({ length: starts.length }, (_, k) => starts[0] + k * WINDOW_MS);
      expect(starts).toEqual(contiguous);
    }
    const wrong = aggregates
      .map((a) => ({ window: `${a.body.lineId}@${new Date(a.body.windowStart).toISOString()}`, count: a.body.count, expected: expected.get(`${a.body.lineId}@${a.body.windowStart}`)?.count }))
      .filter((w) => w.count !== w.expected);
    expect(wrong).toEqual([]);

    // The labels file grew: the first run's labels, then the second run's, in sequence.
    const labelsAfter = fs.readFileSync(labelsFile, 'utf8');
    expect(labelsAfter.startsWith(labelsBefore)).toBe(true);
    const seqs = labelsAfter
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { seq: number }).seq);
    expect(seqs.length).toBeGreaterThan(labelsBefore.trim().split('\n').length);
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));

    // A healthy fleet raised nothing new because of the restart.
    const newAlerts = envelopesInLog<AlertEnvelope>(temp.dir, STREAMS.alerts).filter((a) => !alertsBefore.includes(a.id));
    expect(newAlerts.map((a) => `${a.body.kind} ${a.body.state} ${a.body.lineId} ${a.body.deviceId ?? ''}`)).toEqual([]);
  }, 600_000);
});
