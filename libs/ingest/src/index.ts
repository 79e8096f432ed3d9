export * from './ingest';
export * from './from-config';
