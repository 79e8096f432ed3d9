export * from './file-model-registry';
