/**
 * The stream processor's runtime, one for every backend: a StreamTopology per owned `readings`
 * partition (PartitionTask), partitions spread over instances by the log's consumer group, and a
 * commit strategy per backend (one SQLite transaction embedded; flush, then checkpoint on
 * Kafka/Kinesis). Delivery semantics: see StreamProcessor and the strategies.
 */
export * from './create-stream-processor';
export { StreamProcessor, type StreamProcessorCounters, type StreamProcessorOptions, type StreamProcessorPorts } from './stream-processor';
export { deadLetterPartitionsOf } from './partition-task';
export type { CommitStrategy, PollEffects } from './commit/commit-strategy';
export { EmbeddedTransactionCommit } from './commit/embedded-transaction-commit';
export { FlushThenCheckpointCommit, type FlushThenCheckpointPorts } from './commit/flush-then-checkpoint';
export type { TimeSeriesWriter } from './time-series-writer';
