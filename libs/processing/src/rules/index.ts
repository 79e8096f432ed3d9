export * from './alert-envelope';
export * from './rule';
export * from './voltage-limit.rule';
