export * from './read-model';
export * from './sqlite';
export * from './elasticsearch';
export * from './create-read-model';
