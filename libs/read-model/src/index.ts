// The port, the SQLite adapter and the factory only. The Elasticsearch adapter has an entry point
// of its own (@meterstream/read-model/elasticsearch), so the SQLite default never loads its client.
export * from './read-model';
export * from './alert-decisions';
export * from './sqlite';
export * from './create-read-model';
