import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeEnvelope, readingTopic, STREAMS, type Envelope, type ReadingEnvelope } from '@meterstream/contracts';
import { loadConfig, type Config } from '@meterstream/config';
import { SqliteReadModel, type DeadLetterRow } from '@meterstream/read-model';
import { EmbeddedStreamLog, openEmbeddedDatabase } from '@meterstream/stream';
import { deadLetterEnvelope, makeTempDir } from '@meterstream/test-harness';
import { outputs, readModelState, recordInput, START } from '@meterstream/test-harness';
import { createEmbeddedStreamProcessor } from '../create-stream-processor';

/**
 * The recorded input of the e2e crash test (60 minutes of 20 lines × 25 meters with a sag,
 * duplicates and disorder) plus some dead letters, and what the processor with the embedded
 * transaction commit makes of it: the reference every flush-then-checkpoint run is compared with.
 */
export interface RecordedFixture {
  dir: string;
  config: Config;
  /** A fresh copy of the recorded input database, named `name`.db in its own folder. */
  copyInput(name: string): string;
  reference: RunResult;
  cleanup(): void;
}

export interface RunResult {
  /** Output records by `${stream}/${partition}/${key}`, each list in log order (recorded-input's outputs()). */
  outputs: Record<string, string[]>;
  readModel: Awaited<ReturnType<typeof readModelState>>;
  deadLetters: DeadLetterRow[];
}

const DEAD_LETTERS = 40;

export async function recordedFixture(): Promise<RecordedFixture> {
  const temp = makeTempDir('meterstream-distributed-');
  const input = path.join(temp.dir, 'input.db');
  await recordInput(input);
  const log = EmbeddedStreamLog.open(input, { partitions: 8 });
  const letters = Array.from({ length: DEAD_LETTERS }, (_, i) => {
    const lineId = `L${String(1 + (i % 20)).padStart(2, '0')}`;
    return deadLetterEnvelope(readingTopic(lineId), Buffer.from(`{"deviceId":"m-${i}","ts":"not a time","voltage":120}`), START + i * 60_000);
  });
  for (const letter of letters) await log.append(STREAMS.deadLetters, [{ key: letter.lineId, value: Buffer.from(JSON.stringify(letter)) }]);
  await log.close();

  // Retention of 15 minutes: pruning happens during the run, so the comparison covers it too.
  const config = loadConfig({ DATA_DIR: temp.dir, IDLE_TIMEOUT_MS: String(24 * 3_600_000), READING_RETENTION_HOURS: '0.25' });
  let copies = 0;
  const copyInput = (name: string) => {
    const dir = path.join(temp.dir, `${name}-${copies++}`);
    fs.mkdirSync(dir);
    const file = path.join(dir, `${name}.db`);
    fs.copyFileSync(input, file);
    return file;
  };

  const referenceFile = copyInput('reference');
  const db = openEmbeddedDatabase(referenceFile, { synchronous: 'normal' });
  // Processing time pinned at the input's start, as the runs under test pin theirs: with one
  // clock for both, what the idle rule does once the input is caught up is the same in every run
  // (here: nothing, the input's ingest times are all later).
  const reference = createEmbeddedStreamProcessor(config, db, { now: () => START });
  await reference.join();
  while ((await reference.poll()) > 0);
  await reference.stop();
  db.close();
  return { dir: temp.dir, config, copyInput, reference: await runResult(referenceFile), cleanup: temp.cleanup };
}

export async function runResult(file: string): Promise<RunResult> {
  const model = SqliteReadModel.open(file);
  const deadLetters = await model.deadLetters(1000);
  await model.close();
  return { outputs: outputs(file), readModel: await readModelState(file), deadLetters };
}

export interface Deduplicated {
  /** Each key's records with later copies of an id removed. */
  outputs: Record<string, string[]>;
  /** How many records were later copies. */
  repeats: number;
  /** Ids whose later copies differ from the first (should never happen). */
  conflicting: string[];
}

/** Drops repeated ids per key, as a consumer of an at-least-once output stream does. */
export function deduplicate(outputs: Record<string, string[]>): Deduplicated {
  const result: Deduplicated = { outputs: {}, repeats: 0, conflicting: [] };
  for (const [key, values] of Object.entries(outputs)) {
    const seen = new Map<string, string>();
    const kept: string[] = [];
    for (const value of values) {
      const { id } = decodeEnvelope<Envelope>(value);
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, value);
        kept.push(value);
      } else {
        result.repeats++;
        if (first !== value) result.conflicting.push(id);
      }
    }
    result.outputs[key] = kept;
  }
  return result;
}

/**
 * The ids a time-series sink must end up holding: every reading id with at least one delivery
 * that was not late (`lateOutputs`: the late-readings records of a reference run).
 */
export function acceptedReadingIds(file: string, outputs: Record<string, string[]>): Set<string> {
  const late = new Map<string, number>();
  for (const [key, values] of Object.entries(outputs)) {
    if (!key.startsWith(`${STREAMS.lateReadings}/`)) continue;
    for (const value of values) {
      const { id } = decodeEnvelope<ReadingEnvelope>(value);
      late.set(id, (late.get(id) ?? 0) + 1);
    }
  }
  const deliveries = new Map<string, number>();
  const log = EmbeddedStreamLog.open(file, { partitions: 8 });
  for (let p = 0; p < log.partitionCount(STREAMS.readings); p++) {
    for (const r of log.readSync(STREAMS.readings, String(p), null, 1_000_000)) {
      const { id } = decodeEnvelope<ReadingEnvelope>(r.value);
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
    }
  }
  void log.close();
  return new Set([...deliveries].filter(([id, n]) => n > (late.get(id) ?? 0)).map(([id]) => id));
}
