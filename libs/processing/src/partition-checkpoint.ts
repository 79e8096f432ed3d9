import type { ProcessorSnapshot } from './snapshot';

/**
 * The stream processor's consumer group, and the namespace of its checkpoints (on Kafka and
 * Kinesis prefixed by the deployment's topic/stream prefix). Here so that tooling reading the
 * checkpoints (retrain, tests) names it the way the processor does.
 */
export const PROCESSOR_GROUP = 'stream-processor';

/** Bumped when the layout below changes incompatibly; an older checkpoint is then refused, not misread. */
export const PARTITION_CHECKPOINT_VERSION = 1;

/**
 * What the processor saves per `readings` partition, as one JSON text: the input positions and
 * the processing state that matches them exactly. Whoever owns the partition next (the same
 * process after a restart, another instance after a rebalance or a crash) resumes from it.
 * Here, in the core, because tooling reads it too (retrain compares with the running model).
 *
 * The dead-letter and alert-command partitions this readings partition carries keep their positions here too, so a
 * partition moves between instances with one load and one save.
 */
export interface PartitionCheckpoint {
  v: typeof PARTITION_CHECKPOINT_VERSION;
  /** The readings partition this belongs to (a guard against a store mixing keys up). */
  partition: string;
  /** Last `readings` position processed; null: nothing yet (start from the oldest record retained). */
  position: string | null;
  /** Dead-letter partition → last position applied to the read model. */
  deadLetters: Record<string, string>;
  /**
   * `alert-commands` partition → last position applied to the read model. Absent in checkpoints
   * from before alert commands (read as none applied yet).
   */
  alertCommands?: Record<string, string>;
  /** Highest reading event time processed on this partition (epoch ms): the clock of read-model retention. */
  streamTime: number;
  /** The partition's StreamTopology state after `position`; null before the first reading. */
  topology: ProcessorSnapshot | null;
  /** Processing time (epoch ms) it was saved at: whoever resumes from it knows how long processing stopped (StreamTopology.resume). */
  savedAt?: number;
}

export function emptyCheckpoint(partition: string): PartitionCheckpoint {
  return { v: PARTITION_CHECKPOINT_VERSION, partition, position: null, deadLetters: {}, streamTime: 0, topology: null };
}

export function encodeCheckpoint(checkpoint: PartitionCheckpoint): string {
  return JSON.stringify(checkpoint);
}

/** Parses a stored checkpoint of `partition` (null: none saved yet), refusing anything it cannot trust. */
export function decodeCheckpoint(partition: string, text: string | null): PartitionCheckpoint {
  if (text === null) return emptyCheckpoint(partition);
  const checkpoint = JSON.parse(text) as PartitionCheckpoint;
  if (checkpoint.v !== PARTITION_CHECKPOINT_VERSION) {
    throw new Error(
      `checkpoint of readings partition ${partition} has version ${String(checkpoint.v)}, expected ${PARTITION_CHECKPOINT_VERSION}: ` +
        'rebuild the derived state by replaying the readings under a new processor group',
    );
  }
  if (checkpoint.partition !== partition) {
    throw new Error(`checkpoint stored for readings partition ${partition} belongs to partition ${checkpoint.partition}`);
  }
  return checkpoint;
}
