import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { decodeEnvelope, encodeEnvelope, parseReading, STREAMS, type Envelope } from '@meterstream/contracts';
import { SqliteReadModel } from '@meterstream/read-model';
import { generateMessages, type SimulatorOptions } from '@meterstream/simulator';
import { decodeCheckpoint, PROCESSOR_GROUP } from '@meterstream/processing';
import { EmbeddedStreamLog, SqliteCheckpointStore } from '@meterstream/stream';

/**
 * A recorded input and the means to compare two processors' results over it, for the crash and
 * replay tests.
 */
export const ROOT = path.resolve(__dirname, '../../..');
export const START = Date.parse('2026-03-02T05:00:00Z');
export const MINUTE = 60_000;

const RECORDED_FAULTS: SimulatorOptions['faults'] = [
  { kind: 'sag', lineId: 'L05', start: START + 20 * MINUTE, end: START + 26 * MINUTE, params: { deltaV: 12 } },
  { kind: 'duplicate', probability: 0.01 },
  { kind: 'out-of-order', probability: 0.02, params: { minDelayMs: 1_000, maxDelayMs: 8_000 } },
];

/**
 * A recorded input: 60 simulated minutes of 20 lines × 25 meters with (by default) a sag,
 * duplicates and disorder; `faults` replaces the default faults.
 */
export async function recordInput(file: string, faults: SimulatorOptions['faults'] = RECORDED_FAULTS): Promise<void> {
  const log = EmbeddedStreamLog.open(file, { partitions: 8 });
  const messages = generateMessages({
    seed: 3,
    lines: 20,
    metersPerLine: 25,
    intervalMs: 15_000,
    start: START,
    durationMs: 60 * MINUTE,
    faults,
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

export function startProcessor(dataDir: string): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, 'dist/apps/stream-processor/src/main.js')], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, IDLE_TIMEOUT_MS: String(24 * 3_600_000) },
    stdio: 'ignore',
  });
}

/** True when the processor's checkpoints cover every record of the readings stream. */
export function caughtUp(file: string): boolean {
  const log = EmbeddedStreamLog.open(file, { partitions: 8 });
  try {
    const saved = new SqliteCheckpointStore(log.db).loadAllSync(PROCESSOR_GROUP);
    for (let p = 0; p < log.partitionCount(STREAMS.readings); p++) {
      const partition = String(p);
      const position = decodeCheckpoint(partition, saved.get(partition) ?? null).position;
      if (log.readSync(STREAMS.readings, partition, position, 1).length > 0) return false;
    }
    return true;
  } finally {
    void log.close();
  }
}

export async function stopGracefully(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

export class EmbeddedStreamLogCounter {
  constructor(private readonly file: string) {}
  count(stream: string): number {
    const log = EmbeddedStreamLog.open(this.file, { partitions: 8 });
    const n = log.countSync(stream);
    void log.close();
    return n;
  }
}

/** Every output record, grouped by stream partition and key, in log order: the order Kafka promises. */
export function outputs(file: string): Record<string, string[]> {
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

export async function readModelState(file: string) {
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


/** Every envelope of `stream` in the embedded log of a data directory, partition by partition, in log order. */
export function envelopesInLog<T extends Envelope = Envelope>(dataDir: string, stream: string): T[] {
  const log = EmbeddedStreamLog.open(path.join(dataDir, 'meterstream.db'), { partitions: 8 });
  const out: T[] = [];
  try {
    for (let p = 0; p < log.partitionCount(stream); p++) {
      let after: string | null = null;
      for (;;) {
        const records = log.readSync(stream, String(p), after, 10_000);
        if (records.length === 0) break;
        after = records[records.length - 1].position;
        for (const r of records) out.push(decodeEnvelope<T>(r.value));
      }
    }
  } finally {
    void log.close();
  }
  return out;
}
