export * from './durable-subscriber';
export * from './embedded-broker';
