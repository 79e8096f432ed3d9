import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { isLoopback, type Config } from '@meterstream/config';
import { ServiceLogger } from '@meterstream/observability';
import type { ReadModel } from '@meterstream/read-model';
import type { AlertEventSink } from './alerts/alert-events';
import { AppModule } from './app.module';
import { installJsonBodyParsing } from './common/json-body';
import type { Clock } from './common/tokens';
import { setupOpenApi } from './openapi';

export interface ApiAppOptions {
  readModel: ReadModel;
  /** Where acknowledgements are appended (the alerts stream). */
  alertEvents: AlertEventSink;
  /** Uses HOST (for the exposure check) and API_TOKEN. */
  config: Config;
  /** `false` silences NestJS's own logging (tests). */
  logger?: false;
  /** Epoch-ms clock for the default time ranges; Date.now by default. */
  clock?: Clock;
}

export class InsecureExposureError extends Error {}

/**
 * Builds the query API, initialised but NOT listening: the caller (main.ts, the launcher, a test)
 * calls `listen` or hands `getHttpServer()` to supertest, and closes it. The read model stays the
 * caller's to close.
 *
 * Refuses (rejects) to build an API that would answer anyone on the network: a non-loopback
 * HOST needs an API_TOKEN.
 */
export async function createApiApp(options: ApiAppOptions): Promise<INestApplication> {
  const { config } = options;
  if (!isLoopback(config.HOST) && config.API_TOKEN === undefined) {
    throw new InsecureExposureError(
      `refusing to serve the query API on ${config.HOST} without authentication: set API_TOKEN to a long random secret ` +
        `(e.g. API_TOKEN=$(openssl rand -hex 32)) so clients must send "Authorization: Bearer <token>", or listen on HOST=127.0.0.1`,
    );
  }
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({ readModel: options.readModel, alertEvents: options.alertEvents, config, clock: options.clock ?? Date.now }),
    // abortOnError: a failure while building must reach the caller, not end the process.
    // bodyParser: false: installJsonBodyParsing replaces Nest's parsers (limits, depth, errors).
    { logger: options.logger === false ? false : new ServiceLogger('query-api'), abortOnError: false, bodyParser: false },
  );
  app.disable('x-powered-by');
  installJsonBodyParsing(app);
  setupOpenApi(app);
  await app.init();
  return app;
}
