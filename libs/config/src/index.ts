export * from './config';
export * from './namespaces';
