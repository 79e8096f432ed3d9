import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, APP_PIPE } from '@nestjs/core';
import { STREAMS } from '@meterstream/contracts';
import type { ApiConfig, ReadModelConfig, StreamConfig } from '@meterstream/config';
import { apiConfig, operationsConfig, readModelConfig, serviceConfigModule, streamConfig } from '@meterstream/config/nest';
import { BEARER_TOKEN, BearerTokenGuard, MetricsRegistryModule, OperationsModule, ServiceLoggingModule, sqliteFileCheck, type ReadinessCheck } from '@meterstream/observability';
import type { ReadModel } from '@meterstream/read-model';
import { READ_MODEL as READ_MODEL_PORT, ReadModelModule, STREAM_LOG, StreamLogModule } from '@meterstream/service-modules';
import type { StreamLog } from '@meterstream/stream';
import { StreamAlertCommandSink, type AlertCommandSink } from './alerts/alert-command-sink';
import { AlertsController } from './alerts/alerts.controller';
import { assertNotExposed } from './auth/exposure';
import { ALERT_COMMANDS, CLOCK, READ_MODEL, type Clock } from './common/tokens';
import { createValidationPipe } from './common/validation';
import { DashboardController } from './dashboard/dashboard.controller';
import { DeadLettersController } from './dead-letters/dead-letters.controller';
import { LinesController } from './lines/lines.controller';
import { MetricsController } from './metrics/metrics.controller';

const controllers = [LinesController, AlertsController, DeadLettersController, DashboardController, MetricsController];
/** Every route needs the bearer token when API_TOKEN is set; every query and body is validated. */
const httpProviders = [
  { provide: BEARER_TOKEN, useFactory: (config: ApiConfig) => config.API_TOKEN, inject: [apiConfig.KEY] },
  { provide: APP_GUARD, useClass: BearerTokenGuard },
  { provide: APP_PIPE, useFactory: createValidationPipe },
];
/** Resolved at start-up: refuses an API that would answer anyone on the network (InsecureExposureError). */
const EXPOSURE_CHECK = Symbol('ExposureCheck');
const exposureCheck = { provide: EXPOSURE_CHECK, useFactory: (config: ApiConfig) => assertNotExposed(config), inject: [apiConfig.KEY] };

export interface AppModuleOptions {
  readModel: ReadModel;
  alertCommands: AlertCommandSink;
  /** The `api` namespace (HOST, API_TOKEN, the dashboard's band); a flat Config will do. */
  config: ApiConfig;
  clock: Clock;
}

/**
 * The API with its ports handed in (tests, tools): a thin shell over the read model port; the
 * caller owns and closes the ports.
 */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        MetricsRegistryModule.forRoot('query-api'),
        OperationsModule.forRoot({
          metricsRoute: false,
          readiness: { useFactory: () => [{ name: 'read-model', check: async () => void (await options.readModel.deadLetterCount()) }] },
          bearerToken: { useFactory: () => options.config.API_TOKEN },
        }),
      ],
      controllers,
      providers: [
        { provide: READ_MODEL, useValue: options.readModel },
        { provide: apiConfig.KEY, useValue: options.config },
        { provide: ALERT_COMMANDS, useValue: options.alertCommands },
        { provide: CLOCK, useValue: options.clock },
        exposureCheck,
        ...httpProviders,
      ],
    };
  }
}

/** One instance of the log's module, shared by the acknowledgements and the readiness check. */
const streamLogModule = StreamLogModule.register();

/**
 * What the API's readiness (/ready) depends on: its read model (the SQLite file, or the
 * Elasticsearch cluster answering) and the stream acknowledgements are appended to.
 */
function apiReadiness(readModelConfig: ReadModelConfig, stream: StreamConfig, readModel: ReadModel, log: StreamLog): ReadinessCheck[] {
  const checks: ReadinessCheck[] =
    readModelConfig.READ_MODEL_BACKEND === 'sqlite'
      ? [sqliteFileCheck('database', readModelConfig.databaseFile)]
      : [{ name: 'read-model', check: async () => void (await readModel.deadLetterCount()) }];
  if (stream.STREAM_BACKEND === 'embedded') {
    if (stream.databaseFile !== readModelConfig.databaseFile || readModelConfig.READ_MODEL_BACKEND !== 'sqlite') checks.push(sqliteFileCheck('stream', stream.databaseFile));
  } else {
    checks.push({ name: 'stream', check: async () => void (await log.backlog(STREAMS.alerts, (await log.partitions(STREAMS.alerts))[0], null)) });
  }
  return checks;
}

/**
 * The query-api service: its configuration namespaces (read and validated once, global), the read
 * model (READ_MODEL_BACKEND) and the stream log (STREAM_BACKEND) operators' alert commands are appended
 * to, each from its module and closed with it, under the same controllers.
 */
@Module({
  imports: [
    serviceConfigModule([apiConfig, readModelConfig, streamConfig, operationsConfig]),
    ServiceLoggingModule.forRoot('query-api'),
    MetricsRegistryModule.forRoot('query-api'),
    ReadModelModule,
    streamLogModule,
    OperationsModule.forRoot({
      imports: [ReadModelModule, streamLogModule],
      metricsRoute: false,
      readiness: { useFactory: apiReadiness, inject: [readModelConfig.KEY, streamConfig.KEY, READ_MODEL_PORT, STREAM_LOG] },
      bearerToken: { useFactory: (config: ApiConfig) => config.API_TOKEN, inject: [apiConfig.KEY] },
    }),
  ],
  controllers,
  providers: [
    { provide: ALERT_COMMANDS, useFactory: (log: StreamLog) => new StreamAlertCommandSink(log), inject: [STREAM_LOG] },
    { provide: CLOCK, useValue: Date.now },
    exposureCheck,
    ...httpProviders,
  ],
})
export class QueryApiModule {}
