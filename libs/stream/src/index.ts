export * from './stream-log';
export * from './embedded';
export * from './create-stream-log';
export * from './partitioner';
export * from './checkpoint-store';
