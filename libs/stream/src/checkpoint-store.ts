/**
 * The shared checkpoint store of a processor group: per input partition, the last position
 * processed and the processing state that matches it (opaque JSON text to the store). When a
 * partition changes owner (a rebalance, a processor died), the new owner loads its checkpoint
 * here and continues exactly where the old one committed.
 *
 * Adapters: SQLite (`sqlite-checkpoint-store.ts`, a database every instance reaches) and a Kafka
 * compacted topic (`kafka-checkpoint-store.ts`).
 */
export interface PartitionCheckpointStore {
  /** The newest checkpoint saved for (group, partition), or null. */
  load(group: string, partition: string): Promise<string | null>;
  /** Saves a checkpoint; resolves once it is durable. The newest save wins. */
  save(group: string, partition: string, checkpoint: string): Promise<void>;
  close(): Promise<void>;
}
