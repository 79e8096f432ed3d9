export * from './score-alerts';
export * from './run-evaluation';
