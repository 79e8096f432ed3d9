export * from './rate-reporter';
export * from './lifecycle';
