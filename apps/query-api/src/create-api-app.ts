import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ApiConfig } from '@meterstream/config';
import { METRICS_REGISTRY, ServiceLogger, StartupLogger } from '@meterstream/observability';
import type { ReadModel } from '@meterstream/read-model';
import type { AlertCommandSink } from './alerts/alert-command-sink';
import { AppModule, QueryApiModule } from './app.module';
import { assertNotExposed } from './auth/exposure';
import { installJsonBodyParsing } from './common/json-body';
import { installRequestMetrics } from './metrics/request-metrics';
import type { Clock } from './common/tokens';
import { setupOpenApi } from './openapi';

export { InsecureExposureError } from './auth/exposure';

export interface ApiAppOptions {
  readModel: ReadModel;
  /** Where operators' alert commands are appended (the `alert-commands` stream). */
  alertCommands: AlertCommandSink;
  /** The `api` namespace: HOST (for the exposure check), API_TOKEN, the dashboard's band. A flat Config will do. */
  config: ApiConfig;
  /** `false` silences NestJS's own logging (tests). */
  logger?: false;
  /** Epoch-ms clock for the default time ranges; Date.now by default. */
  clock?: Clock;
}

/**
 * Builds the query API over ports the caller hands in (tests, tools), initialised but NOT
 * listening: the caller calls `listen` or hands `getHttpServer()` to supertest, and closes it.
 * The read model stays the caller's to close.
 *
 * Refuses (rejects) to build an API that would answer anyone on the network: a non-loopback
 * HOST needs an API_TOKEN.
 */
export async function createApiApp(options: ApiAppOptions): Promise<INestApplication> {
  // Checked before anything is built (the module checks again; this keeps Nest from logging it).
  assertNotExposed(options.config);
  const module = AppModule.forRoot({ readModel: options.readModel, alertCommands: options.alertCommands, config: options.config, clock: options.clock ?? Date.now });
  return initialise(module, options.logger);
}

/**
 * The query-api service (main.ts): configuration from the environment, the read model and the
 * stream log from their modules (closed by app.close()). Initialised, not listening.
 */
export function createApiService(): Promise<INestApplication> {
  return initialise(QueryApiModule, 'service');
}

/** logger: 'service' — the service's nestjs-pino logger (ServiceLoggingModule); false — silent (tests); undefined — Nest's default. */
async function initialise(module: Parameters<typeof NestFactory.create>[0], logger?: false | 'service'): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    module,
    // abortOnError: a failure while building must reach the caller, not end the process.
    // bodyParser: false: installJsonBodyParsing replaces Nest's parsers (limits, depth, errors).
    { logger: logger === false ? false : logger === 'service' ? new StartupLogger('query-api') : undefined, bufferLogs: logger === 'service', abortOnError: false, bodyParser: false },
  );
  if (logger === 'service') {
    app.useLogger(app.get(ServiceLogger));
    app.flushLogs();
  }
  app.disable('x-powered-by');
  installRequestMetrics(app, app.get(METRICS_REGISTRY));
  installJsonBodyParsing(app);
  setupOpenApi(app);
  await app.init();
  return app;
}
