import { ConfigModule, registerAs, type ConfigModuleOptions, type ConfigType } from '@nestjs/config';
import type { DynamicModule } from '@nestjs/common';
import {
  alertChannelsNamespace,
  apiNamespace,
  ingestNamespace,
  ingestSourceNamespace,
  modelRegistryNamespace,
  mqttNamespace,
  operationsNamespace,
  processorNamespace,
  readModelNamespace,
  streamNamespace,
  timeSeriesNamespace,
  checkNamespaces,
  type ConfigNamespace,
} from './namespaces';

/**
 * The namespaces as @nestjs/config registrations: inject one with `@Inject(streamConfig.KEY)
 * config: ConfigType<typeof streamConfig>` (or the slice type, StreamConfig). Each factory reads
 * and validates its variables from process.env when the service's ConfigModule instantiates it:
 * once per process.
 */
const namespaceOf = new Map<unknown, ConfigNamespace<unknown>>();
const register = <T extends object>(ns: ConfigNamespace<T>) => {
  const registration = registerAs(ns.name, (): T => ns.load(process.env));
  namespaceOf.set(registration, ns);
  return registration;
};

export const streamConfig = register(streamNamespace);
export const readModelConfig = register(readModelNamespace);
export const timeSeriesConfig = register(timeSeriesNamespace);
export const alertChannelsConfig = register(alertChannelsNamespace);
export const mqttConfig = register(mqttNamespace);
export const ingestConfig = register(ingestNamespace);
export const ingestSourceConfig = register(ingestSourceNamespace);
export const processorConfig = register(processorNamespace);
export const modelRegistryConfig = register(modelRegistryNamespace);
export const apiConfig = register(apiNamespace);
export const operationsConfig = register(operationsNamespace);

export type { ConfigType };

/**
 * A service's configuration: the namespaces it uses, global (every module injects them by KEY),
 * from the environment only (no .env file: the README's variables are the interface). An
 * invalid variable fails the service's start-up with a ConfigError naming it.
 */
export function serviceConfigModule(load: NonNullable<ConfigModuleOptions['load']>): Promise<DynamicModule> {
  const module = (async () => {
    // All the service's namespaces first, together: one message naming every bad variable.
    checkNamespaces(load.map((registration) => namespaceOf.get(registration)).filter((ns) => ns !== undefined));
    return ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load });
  })();
  // This runs when the module file is imported; Nest awaits it (and reports the failure) a little later.
  module.catch(() => undefined);
  return module;
}
