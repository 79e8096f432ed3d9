import { STREAMS } from '@meterstream/contracts';
import { SqliteReadModel } from '@meterstream/read-model';
import { SqliteCheckpointStore } from '@meterstream/stream';
import * as path from 'node:path';
import { createStreamProcessor, type StreamProcessor } from '../../../apps/stream-processor/src/runtime';
import type { BackendUnderTest } from './backend-logs';
import type { BackendWorkload } from './backend-workload';
import { CountingReadModel } from './counting-read-model';

export interface PhaseResult {
  readingsPerSec: number;
  seconds: number;
}

export interface BackendResult {
  name: string;
  partitions: number;
  /** Appending the workload to `readings` in the bridge's batches, one append after the other. */
  produce: PhaseResult;
  /** The distributed processor from the first poll until the fired windows account for every reading. */
  consume: PhaseResult;
  /** produce + consume. */
  endToEnd: PhaseResult;
  /** Joining the consumer group, before the consume clock starts (on Kafka: a group rebalance). */
  joinSeconds: number;
  /** Readings the distinct per-line windows in the read model account for; must equal the workload. */
  aggregated: number;
  lost: number;
  outputs: { aggregates: number; alerts: number; late: number };
  checkpoints: number;
  /** Polls rolled back after a failed read, write or checkpoint (each one is reported on stderr). */
  rollbacks: number;
}

const PHASE_TIMEOUT_MS = 10 * 60_000;
const fmt = (n: number) => n.toLocaleString('en');
const seconds = (fromNs: bigint) => Number(process.hrtime.bigint() - fromNs) / 1e9;
const phase = (readings: number, s: number): PhaseResult => ({ readingsPerSec: Math.round(readings / s), seconds: Number(s.toFixed(2)) });

/** Calls `report` every second until the returned function is called. */
function reportEverySecond(report: () => void): () => void {
  const timer = setInterval(report, 1000);
  return () => clearInterval(timer);
}

function withTimeout<T>(work: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why())), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The workload through one stream backend, in two timed phases:
 *
 * 1. produce: append the recorded readings to `readings` in the bridge's batch size, each append
 *    awaited (durable) before the next, as the bridge's group-commit subscriber does;
 * 2. consume: the distributed processor (the runtime for Kafka and Kinesis; the embedded log runs
 *    through it too, so only the log differs) reads them to the end, appends its outputs to the
 *    same backend and applies the SQLite read model, with SQLite checkpoints. The clock stops when
 *    the fired windows in the read model account for every reading.
 *
 * Streams are created and the consumer group joined before the clocks start: those are one-off
 * costs, not throughput. Phases run one after the other, so they do not share the CPU with each
 * other (they do with the engine's own process, as they would on one host).
 */
export async function measureBackend(backend: BackendUnderTest, workload: BackendWorkload, progress: (line: string) => void): Promise<BackendResult> {
  const { log, kind } = backend;
  const { records, readings, appendBatch } = workload;
  // One after the other: creating several Kafka topics at once intermittently fails in the
  // adapter's metadata fetch ("This server does not host this topic-partition").
  for (const stream of Object.values(STREAMS)) await log.partitions(stream);
  const partitions = (await log.partitions(STREAMS.readings)).length;

  let appended = 0;
  const stopProduceReport = reportEverySecond(() => progress(`${kind}: appended ${fmt(appended)} / ${fmt(records.length)} records`));
  const produceStart = process.hrtime.bigint();
  try {
    await withTimeout(
      (async () => {
        for (; appended < records.length; appended = Math.min(records.length, appended + appendBatch)) {
          await log.append(STREAMS.readings, records.slice(appended, appended + appendBatch));
        }
      })(),
      PHASE_TIMEOUT_MS,
      () => `${kind}: appending timed out after ${fmt(appended)} of ${fmt(records.length)} records`,
    );
  } finally {
    stopProduceReport();
  }
  const produceSeconds = seconds(produceStart);
  progress(`${kind}: produce ${fmt(Math.round(readings / produceSeconds))} readings/s (${produceSeconds.toFixed(2)} s)`);

  const readModel = new CountingReadModel(SqliteReadModel.open(path.join(backend.dir, 'read-model.db')));
  const checkpoints = SqliteCheckpointStore.open(path.join(backend.dir, 'checkpoints.db'));
  const processor = createStreamProcessor(
    backend.config,
    { log, readModel, checkpoints },
    { onError: (err) => progress(`${kind}: processor: ${err.message}`) },
    { group: `meterstream-bench-${process.pid}-${Date.now().toString(36)}` },
  );
  try {
    const joinStart = process.hrtime.bigint();
    await withTimeout(joinAll(processor, partitions), 120_000, () => `${kind}: the processor was not assigned all ${partitions} partitions within 2 minutes`);
    const joinSeconds = seconds(joinStart);

    const stopConsumeReport = reportEverySecond(() =>
      progress(`${kind}: ${fmt(processor.counters.readings)} / ${fmt(records.length)} records processed, windows account for ${fmt(readModel.aggregated)} readings`),
    );
    const consumeStart = process.hrtime.bigint();
    try {
      await processor.start();
      await withTimeout(
        readModel.untilAggregated(readings),
        PHASE_TIMEOUT_MS,
        () => `${kind}: processing timed out with ${fmt(readModel.aggregated)} of ${fmt(readings)} readings in fired windows (counters ${JSON.stringify(processor.counters)})`,
      );
    } finally {
      stopConsumeReport();
    }
    const consumeSeconds = seconds(consumeStart);
    progress(`${kind}: consume ${fmt(Math.round(readings / consumeSeconds))} readings/s (${consumeSeconds.toFixed(2)} s)`);

    const { aggregates, alerts, late, checkpoints: saved, rollbacks } = processor.counters;
    return {
      name: backend.name,
      partitions,
      produce: phase(readings, produceSeconds),
      consume: phase(readings, consumeSeconds),
      endToEnd: phase(readings, produceSeconds + consumeSeconds),
      joinSeconds: Number(joinSeconds.toFixed(2)),
      aggregated: readModel.aggregated,
      lost: Math.max(0, readings - readModel.aggregated),
      outputs: { aggregates, alerts, late },
      checkpoints: saved,
      rollbacks,
    };
  } finally {
    await processor.stop();
    await Promise.allSettled([readModel.close(), checkpoints.close()]);
  }
}

/** Joins the group and waits until this (only) member owns every partition. */
async function joinAll(processor: StreamProcessor, partitions: number): Promise<void> {
  await processor.join();
  while (processor.ownedPartitions().length < partitions) await new Promise((resolve) => setTimeout(resolve, 50));
}
