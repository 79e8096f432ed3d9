// NestJS feature modules: one provider per port, built by the port library's factory from the
// port's configuration namespace (@meterstream/config/nest), closed in onModuleDestroy.
export * from './tokens';
export * from './embedded-database.module';
export * from './checkpoint-store.module';
export * from './stream-log.module';
export * from './read-model.module';
export * from './time-series.module';
export * from './alert-channels.module';
export * from './model-registry.module';
