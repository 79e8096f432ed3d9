export * from './read-model';
export * from './sqlite';
