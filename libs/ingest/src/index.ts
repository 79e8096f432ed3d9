export * from './ingest';
export * from './from-config';
export * from './iot-rule-record';
export * from './raw-stream-ingest';
export * from './ingest-metrics';
