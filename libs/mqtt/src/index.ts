export * from './durable-subscriber';
export * from './embedded-broker';
export * from './tls-refusal';
