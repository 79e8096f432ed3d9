export * from './rate-reporter';
export * from './lifecycle';
export * from './service-logger';
