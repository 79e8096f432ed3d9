export * from './pipeline';
export * from './temp-dir';
export * from './wait-for';
