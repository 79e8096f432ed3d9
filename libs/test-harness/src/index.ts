export * from './envelopes';
export * from './pipeline';
export * from './seeded-random';
export * from './temp-dir';
export * from './wait-for';
export * from './output-lines';
export * from './processes';
export * from './recorded-input';
