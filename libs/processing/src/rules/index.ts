export * from './alert-envelope';
export * from './alert-book';
export * from './rule';
export * from './voltage-limit.rule';
export * from './voltage-model.rule';
export * from './meter-health.rule';
export * from './fixed-variance.rule';
export * from './create-alert-rules';
