export * from './alert-channel';
