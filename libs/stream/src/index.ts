// The port, the embedded adapter and the factories only. The Kafka and Kinesis adapters have entry
// points of their own (@meterstream/stream/kafka, @meterstream/stream/kinesis): exporting them here
// would load kafkajs and the AWS SDK into every service, embedded default included.
export * from './stream-log';
export * from './embedded';
export * from './embedded-group-lease';
export * from './create-stream-log';
export * from './partitioner';
export * from './checkpoint-store';
export * from './sqlite-checkpoint-store';
