import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { loadConfig } from '@meterstream/config';
import { decodeEnvelope, isRaise, encodeEnvelope, parseReading, STREAMS, type AlertEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { FileModelRegistry } from '@meterstream/model-registry';
import { fitVoltageModel } from '@meterstream/model-training';
import { SqliteReadModel } from '@meterstream/read-model';
import { generateMessages, type SimulatorOptions } from '@meterstream/simulator';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { buildOnce, makeTempDir, waitFor } from '@meterstream/test-harness';
import { retrainCommand } from '../../apps/cli/src/commands/retrain';
import { caughtUp, ROOT, stopGracefully } from '@meterstream/test-harness';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const START = Date.parse('2026-03-02T12:00:00Z');
/** The processor has run over this much of the stream when the model is retrained. */
const RECORDED = 5 * HOUR;
const REGULATOR_FAILS = START + RECORDED + 30 * MINUTE;
const MODEL_KINDS = new Set(['voltage-anomaly', 'meter-drift', 'line-voltage-deviation']);

/** 6 feeder lines × 20 meters every 15 s; L03's regulator gets stuck ten taps low an hour after the recorded part. */
const FLEET: SimulatorOptions = {
  seed: 5,
  lines: 6,
  metersPerLine: 20,
  intervalMs: 15_000,
  start: START,
  durationMs: RECORDED + 2 * HOUR,
  faults: [{ kind: 'failed-regulator', lineId: 'L03', start: REGULATOR_FAILS, end: REGULATOR_FAILS + HOUR }],
};

/** The simulation's readings as the bridge would append them, split at `split` (send time). */
function readings(options: SimulatorOptions, split = Infinity): [ReadingEnvelope[], ReadingEnvelope[]] {
  const before: ReadingEnvelope[] = [];
  const after: ReadingEnvelope[] = [];
  for (const m of generateMessages(options)) {
    const parsed = parseReading(m.topic, m.payload, { ingestTime: m.simTime + 500, maxFutureSkewMs: 1e12 });
    if (parsed.ok) (m.simTime < split ? before : after).push(parsed.envelope);
  }
  return [before, after];
}

/**
 * Appends as ingest would: each reading stamped with the time it reaches the log. (The simulated
 * event times are months in the past, so the readings arrive that late: a backfill. The processor's
 * idle rule runs on these arrival times, so they must be the same clock as its own, or it would
 * count every line as idle since the simulated day and take all later readings for late.)
 */
async function append(file: string, envelopes: readonly ReadingEnvelope[]): Promise<void> {
  const log = EmbeddedStreamLog.open(file, { partitions: 8 });
  for (let i = 0; i < envelopes.length; i += 1000) {
    const ingestTime = Date.now();
    await log.append(
      STREAMS.readings,
      envelopes.slice(i, i + 1000).map((e) => ({ key: e.lineId, value: encodeEnvelope({ ...e, ingestTime }) })),
    );
  }
  await log.close();
}

function alertsOnTheStream(file: string): AlertEnvelope[] {
  const log = EmbeddedStreamLog.open(file, { partitions: 8 });
  const alerts: AlertEnvelope[] = [];
  for (let p = 0; p < log.partitionCount(STREAMS.alerts); p++) {
    for (const record of log.readSync(STREAMS.alerts, String(p), null, 1_000_000)) alerts.push(decodeEnvelope<AlertEnvelope>(record.value));
  }
  void log.close();
  return alerts;
}

describe('meterstream retrain against a running processor', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let processor: ChildProcess | undefined;
  const output: string[] = [];
  beforeAll(() => buildOnce());
  beforeEach(() => (temp = makeTempDir('meterstream-retrain-e2e-')));
  afterEach(async () => {
    if (processor && processor.exitCode === null && processor.signalCode === null) await stopGracefully(processor);
    temp.cleanup();
  });

  it('replaces a stale model with one that beats it on held-out readings, which the running processor installs and names in its next alerts', async () => {
    const config = loadConfig({ DATA_DIR: temp.dir });
    const file = config.databaseFile;
    const registry = new FileModelRegistry(config.modelDir);
    const installed = (version: number) => output.join('').includes(`installed voltage model version ${version} `);

    // A deliberately stale model: fitted on another feeder (another seed: other bus voltages,
    // meter positions and offsets) a day earlier, published as v1 before the processor starts.
    const [otherFeeder] = readings({ ...FLEET, seed: 99, start: START - 24 * HOUR, durationMs: 2 * HOUR, faults: 'none' });
    otherFeeder.sort((a, b) => a.eventTime - b.eventTime || (a.deviceId! < b.deviceId! ? -1 : 1));
    const { rows: _rows, ...stale } = fitVoltageModel(otherFeeder);
    expect(registry.publish(stale).version).toBe(1);

    const [recorded, later] = readings(FLEET, START + RECORDED);
    await append(file, recorded);
    processor = spawn(process.execPath, [path.join(ROOT, 'dist/apps/stream-processor/src/main.js')], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: temp.dir, IDLE_TIMEOUT_MS: String(24 * HOUR) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processor.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    processor.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    await waitFor(() => installed(1) && caughtUp(file), { what: 'the processor to install v1 and process the recorded readings', timeoutMs: 120_000 });

    // Retrain on what was recorded, against the model the processor runs (v1 + five hours online).
    const lines: string[] = [];
    const result = await retrainCommand(
      { from: new Date(START).toISOString(), to: new Date(START + RECORDED).toISOString(), heldOut: 0.2, publish: true, force: false, json: false },
      { out: (l) => lines.push(l), progress: () => undefined, config },
    );
    expect(result.readings).toBe(recorded.length);
    expect(result.comparedWith).toBe('running-model');
    expect(lines.join('\n')).toContain('running model (checkpoint, from v1)');
    expect(lines.join('\n')).toMatch(/verdict +the new model is better/);
    expect(result.newModelMae).toBeGreaterThan(0.15);
    expect(result.newModelMae).toBeLessThan(0.25);
    expect(result.runningModelMae).toBeGreaterThan(result.newModelMae);
    expect(result.improvement).toBeGreaterThan(0);
    expect(result.verdict).toBe('better');
    expect(result.published).toBe(2);

    // No restart: the running processor picks v2 up from the registry, then the feeder goes on.
    await waitFor(() => installed(2), { what: 'the running processor to install v2', timeoutMs: 30_000 });
    await append(file, later);
    await waitFor(() => caughtUp(file), { what: 'the processor to process the later readings', timeoutMs: 120_000 });

    const alert = await waitFor(
      () => alertsOnTheStream(file).find((a) => a.body.state === 'raised' && a.body.kind === 'line-voltage-deviation' && a.lineId === 'L03' && a.body.raisedAt >= REGULATOR_FAILS),
      { what: 'a line-voltage-deviation alert on L03 after the regulator failed', timeoutMs: 30_000 },
    );
    expect(alert.body.evidence.modelVersion).toBe(2);
    expect(alert.body.raisedAt).toBeLessThan(REGULATOR_FAILS + 5 * MINUTE);
    expect(alert.body.evidence.value).toBeLessThan(alert.body.evidence.expected! - 5);
    // The stale model cried wolf on healthy meters (v1 in the evidence); the new one clears every
    // such alert and raises nothing on the later readings but the failed regulator.
    const onStream = alertsOnTheStream(file).filter((a) => MODEL_KINDS.has(a.body.kind));
    const staleAlarms = onStream.filter((a) => a.body.state === 'raised' && a.body.evidence.modelVersion === 1);
    expect(staleAlarms.length).toBeGreaterThan(0);
    const cleared = onStream.filter((a) => a.body.state === 'cleared');
    const clearedIds = new Set(cleared.map((a) => a.body.alertId));
    expect(staleAlarms.filter((a) => !clearedIds.has(a.body.alertId))).toEqual([]);
    expect(cleared.filter((a) => a.body.evidence.modelVersion === 2).length).toBeGreaterThan(0);
    const raisedLater = onStream.filter((a) => isRaise(a.body) && a.eventTime >= START + RECORDED);
    expect(raisedLater.map((a) => `${a.body.kind} ${a.lineId} v${a.body.evidence.modelVersion}`)).toEqual(['line-voltage-deviation L03 v2']);
    // The read model the API serves says the same.
    const readModel = SqliteReadModel.open(file);
    const rows = (await readModel.alerts({ lineId: 'L03' })).filter((a) => a.alertId === alert.body.alertId);
    await readModel.close();
    expect(rows).toHaveLength(1);
    expect(rows[0].evidence.modelVersion).toBe(2);
  }, 600_000);
});
