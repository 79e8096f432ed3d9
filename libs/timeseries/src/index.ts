export * from './time-series-sink';
export * from './sqlite';
export * from './timestream';
export * from './timestream-records';
export * from './rejected-records';
export * from './retry-policy';
export * from './none';
export * from './create-time-series-sink';
