import type { AlertCommandEnvelope, DeadLetterEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import type { ProcessorOutput } from '@meterstream/processing';
import type { LineCounters } from '@meterstream/read-model';
import type { PartitionTask } from '../partition-task';

/** What one poll over the owned partitions produced, ready to be written. */
export interface PollEffects {
  /** The partitions' outputs back to back, in partition order (per key, emission order is kept). */
  output: ProcessorOutput;
  /** Readings that were not late, in log order per partition: the time series gets them all. */
  accepted: ReadingEnvelope[];
  deadLetters: DeadLetterEnvelope[];
  /** Operators' commands from `alert-commands`, for the read model after the poll's alert events. */
  alertCommands: AlertCommandEnvelope[];
  /** Lines whose late/duplicate totals changed. */
  lineCounters: LineCounters[];
  /** Raw readings older than this (event time) stay out of the read model and are pruned from it. */
  retentionCutoff: number;
  /** Processing time of the poll. */
  now: number;
}

/**
 * How a poll's effects and the partitions' checkpoints reach durable storage. The processor runs
 * the same poll loop on every backend; only this differs:
 *
 * - EmbeddedTransactionCommit (the embedded SQLite log): outputs, read model and checkpoints in
 *   one transaction per poll, so nothing is ever emitted twice.
 * - FlushThenCheckpointCommit (Kafka, Kinesis, or any StreamLog): outputs appended and sinks
 *   written per poll; every few polls the sinks are flushed and then the checkpoints saved, so a
 *   checkpoint never covers an effect that could still be lost (outputs at least once).
 */
export interface CommitStrategy {
  /** Writes one poll's effects; an atomic strategy checkpoints the changed `tasks` with them. Rejects if anything failed. */
  commit(effects: PollEffects, tasks: readonly PartitionTask[]): Promise<void>;
  /**
   * Saves the checkpoints of the changed tasks among `tasks`, after making everything they cover
   * durable, and marks them saved. Resolves with how many were saved.
   */
  checkpoint(tasks: readonly PartitionTask[], retentionCutoff: number, now: number): Promise<number>;
  /** Housekeeping the processor lets run after every poll (the embedded log's retention). */
  maintain?(now: number): void;
}
