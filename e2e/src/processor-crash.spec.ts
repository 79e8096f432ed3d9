import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeEnvelope, parseReading, STREAMS } from '@meterstream/contracts';
import { CheckpointStore } from '../../apps/stream-processor/src/checkpoint-store';
import { SqliteReadModel } from '@meterstream/read-model';
import { generateMessages } from '@meterstream/simulator';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { buildOnce, makeTempDir, waitFor } from '@meterstream/test-harness';
import { prand } from './seeded';

const ROOT = path.resolve(__dirname, '../..');
const START = Date.parse('2026-03-02T05:00:00Z');
const MINUTE = 60_000;

/** A recorded input: 60 simulated minutes of 20 lines × 25 meters with a sag, duplicates and disorder. */
async function recordInput(file: string): Promise<void> {
  const log = EmbeddedStreamLog.open(file, { partitions: 8 });
  const messages = generateMessages({
    seed: 3,
    lines: 20,
    metersPerLine: 25,
    intervalMs: 15_000,
    start: START,
    durationMs: 60 * MINUTE,
    faults: [
      { kind: 'sag', lineId: 'L05', start: START + 20 * MINUTE, end: START + 26 * MINUTE, params: { deltaV: 12 } },
      { kind: 'duplicate', probability: 0.01 },
      { kind: 'out-of-order', probability: 0.02, params: { minDelayMs: 1_000, maxDelayMs: 8_000 } },
    ],
  });
  let chunk = [];
  for (const m of messages) {
    const parsed = parseReading(m.topic, m.payload, { ingestTime: m.simTime + 500, maxFutureSkewMs: 1e12 });
    if (!parsed.ok) continue;
    chunk.push({ key: parsed.envelope.lineId, value: encodeEnvelope(parsed.envelope) });
    // Many small appends, as the bridge makes them, so the processor works through many batches.
    if (chunk.length === 250) {
      await log.append(STREAMS.readings, chunk);
      chunk = [];
    }
  }
  await log.append(STREAMS.readings, chunk);
  await log.close();
}

function startProcessor(dataDir: string): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'dist/apps/stream-processor/src/main.js')], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, IDLE_TIMEOUT_MS: String(24 * 3_600_000) },
    stdio: 'ignore',
  });
}

/** True when the processor's checkpoint covers every record of the readings stream. */
function caughtUp(file: string): boolean {
  const log = EmbeddedStreamLog.open(file, { partitions: 8 });
  try {
    const positions = new CheckpointStore(log.db, 'stream-processor').load().positions[STREAMS.readings] ?? {};
    for (let p = 0; p < log.partitionCount(STREAMS.readings); p++) {
      if (log.readSync(STREAMS.readings, String(p), positions[String(p)] ?? null, 1).length > 0) return false;
    }
    return true;
  } finally {
    void log.close();
  }
}

async function stopGracefully(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

class EmbeddedStreamLogCounter {
  constructor(private readonly file: string) {}
  count(stream: string): number {
    const log = EmbeddedStreamLog.open(this.file, { partitions: 8 });
    const n = log.countSync(stream);
    void log.close();
    return n;
  }
}

/** Every output record, grouped by stream partition and key, in log order: the order Kafka promises. */
function outputs(file: string): Record<string, string[]> {
  const log = EmbeddedStreamLog.open(file, { partitions: 8 });
  const out: Record<string, string[]> = {};
  for (const stream of [STREAMS.aggregates, STREAMS.alerts, STREAMS.lateReadings]) {
    for (let p = 0; p < log.partitionCount(stream); p++) {
      for (const r of log.readSync(stream, String(p), null, 1_000_000)) (out[`${stream}/${p}/${r.key}`] ??= []).push(r.value.toString());
    }
  }
  void log.close();
  return out;
}

async function readModelState(file: string) {
  const model = SqliteReadModel.open(file);
  const lines = await model.lines();
  const range = { from: START - 60 * MINUTE, to: START + 120 * MINUTE };
  const state = {
    lines,
    aggregates: await Promise.all(lines.map((l) => model.aggregates(l.lineId, range))),
    // Digested: deep-comparing 100k+ rows inside jest's sandbox takes minutes.
    readings: createHash('sha256')
      .update(JSON.stringify(await Promise.all(lines.map((l) => model.readings(l.lineId, range, 10_000)))))
      .digest('hex'),
    readingCount: (await Promise.all(lines.map((l) => model.readings(l.lineId, range, 10_000)))).reduce((n, r) => n + r.length, 0),
    alerts: await model.alerts({}),
  };
  await model.close();
  return state;
}

describe('the stream processor under SIGKILL', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeAll(() => buildOnce());
  beforeEach(() => (temp = makeTempDir('meterstream-crash-')));
  afterEach(() => temp.cleanup());

  it('produces, after being killed at random points and restarted, exactly the outputs and read model of an uninterrupted run', async () => {
    const straightDir = path.join(temp.dir, 'straight');
    const crashedDir = path.join(temp.dir, 'crashed');
    fs.mkdirSync(straightDir);
    fs.mkdirSync(crashedDir);
    await recordInput(path.join(straightDir, 'meterstream.db'));
    fs.copyFileSync(path.join(straightDir, 'meterstream.db'), path.join(crashedDir, 'meterstream.db'));

    const straight = startProcessor(straightDir);
    await waitFor(() => caughtUp(path.join(straightDir, 'meterstream.db')), { what: 'the uninterrupted run to finish', timeoutMs: 60_000 });
    await stopGracefully(straight);

    const random = prand(20261129);
    const aggregatesAt = () => new EmbeddedStreamLogCounter(path.join(crashedDir, 'meterstream.db')).count(STREAMS.aggregates);
    const progressAtKill: number[] = [];
    let kills = 0;
    while (!caughtUp(path.join(crashedDir, 'meterstream.db'))) {
      const child = startProcessor(crashedDir);
      if (kills < 6) {
        // Kill once it has made some progress since its restart — mid-run, at a seeded random point.
        const before = aggregatesAt();
        const step = 20 + Math.floor(random() * 130);
        await waitFor(() => aggregatesAt() >= before + step, { what: `${step} more aggregates`, intervalMs: 10, timeoutMs: 60_000 });
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
        kills++;
        progressAtKill.push(aggregatesAt());
      } else {
        await waitFor(() => caughtUp(path.join(crashedDir, 'meterstream.db')), { what: 'the crashed run to finish', timeoutMs: 60_000 });
        await stopGracefully(child);
      }
    }
    expect(kills).toBe(6);
    // The kills really landed mid-run: output grew between them and was not complete at the last one.
    const finalCount = aggregatesAt();
    expect(new Set(progressAtKill).size).toBeGreaterThanOrEqual(3);
    expect(progressAtKill[progressAtKill.length - 1]).toBeLessThan(finalCount);

    const want = outputs(path.join(straightDir, 'meterstream.db'));
    const got = outputs(path.join(crashedDir, 'meterstream.db'));
    expect(Object.keys(want).length).toBeGreaterThan(20);
    expect(Object.keys(want).some((k) => k.startsWith(`${STREAMS.alerts}/`))).toBe(true);
    expect(got).toEqual(want);
    expect(await readModelState(path.join(crashedDir, 'meterstream.db'))).toEqual(await readModelState(path.join(straightDir, 'meterstream.db')));
  });
});
