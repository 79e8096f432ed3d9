export * from './stream-log';
export * from './embedded';
