export * from './alert-command';
export * from './envelope';
export * from './event-id';
export * from './parse-reading';
export * from './reading';
export * from './show-value';
export * from './streams';
export * from './topics';

import readingSchemaJson from './reading.v1.schema.json';
/** The v1 reading contract as published JSON Schema (also shipped as reading.v1.schema.json). */
export const readingSchema = readingSchemaJson;
