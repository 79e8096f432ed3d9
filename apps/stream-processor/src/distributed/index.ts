/**
 * The stream processor on distributed stream backends (Kafka, Kinesis): one StreamTopology per
 * owned `readings` partition, partitions spread over instances by the log's consumer group,
 * per-partition checkpoints in a shared PartitionCheckpointStore. Delivery semantics: see
 * DistributedProcessor.
 */
export { createDistributedProcessor, DEFAULT_TUNING, PROCESSOR_GROUP, type DistributedProcessorDeps, type DistributedProcessorTuning } from './create-distributed-processor';
export { DistributedProcessor, type DistributedProcessorCounters, type DistributedProcessorOptions, type DistributedProcessorPorts } from './distributed-processor';
export { decodeCheckpoint, deadLetterPartitionsOf, PARTITION_CHECKPOINT_VERSION, type PartitionCheckpoint } from './partition-checkpoint';
export type { TimeSeriesWriter } from './time-series-writer';
