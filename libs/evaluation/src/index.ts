export * from './score-alerts';
export * from './run-evaluation';
export * from './cvr-evaluation';
