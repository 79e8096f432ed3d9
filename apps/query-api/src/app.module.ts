import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, APP_PIPE } from '@nestjs/core';
import type { ApiConfig } from '@meterstream/config';
import { apiConfig, readModelConfig, serviceConfigModule, streamConfig } from '@meterstream/config/nest';
import type { ReadModel } from '@meterstream/read-model';
import { ReadModelModule, STREAM_LOG, StreamLogModule } from '@meterstream/service-modules';
import type { StreamLog } from '@meterstream/stream';
import { StreamAlertEventSink, type AlertEventSink } from './alerts/alert-events';
import { AlertsController } from './alerts/alerts.controller';
import { BearerTokenGuard } from './auth/bearer-token.guard';
import { assertNotExposed } from './auth/exposure';
import { ALERT_EVENTS, CLOCK, READ_MODEL, type Clock } from './common/tokens';
import { createValidationPipe } from './common/validation';
import { DashboardController } from './dashboard/dashboard.controller';
import { DeadLettersController } from './dead-letters/dead-letters.controller';
import { HealthController } from './health/health.controller';
import { LinesController } from './lines/lines.controller';
import { MetricsController } from './metrics/metrics.controller';

const controllers = [HealthController, LinesController, AlertsController, DeadLettersController, DashboardController, MetricsController];
/** Every route needs the bearer token when API_TOKEN is set; every query and body is validated. */
const httpProviders = [
  { provide: APP_GUARD, useClass: BearerTokenGuard },
  { provide: APP_PIPE, useFactory: createValidationPipe },
];
/** Resolved at start-up: refuses an API that would answer anyone on the network (InsecureExposureError). */
const EXPOSURE_CHECK = Symbol('ExposureCheck');
const exposureCheck = { provide: EXPOSURE_CHECK, useFactory: (config: ApiConfig) => assertNotExposed(config), inject: [apiConfig.KEY] };

export interface AppModuleOptions {
  readModel: ReadModel;
  alertEvents: AlertEventSink;
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
      controllers,
      providers: [
        { provide: READ_MODEL, useValue: options.readModel },
        { provide: apiConfig.KEY, useValue: options.config },
        { provide: ALERT_EVENTS, useValue: options.alertEvents },
        { provide: CLOCK, useValue: options.clock },
        exposureCheck,
        ...httpProviders,
      ],
    };
  }
}

/**
 * The query-api service: its configuration namespaces (read and validated once, global), the read
 * model (READ_MODEL_BACKEND) and the stream log (STREAM_BACKEND) its acknowledgements are appended
 * to, each from its module and closed with it, under the same controllers.
 */
@Module({
  imports: [serviceConfigModule([apiConfig, readModelConfig, streamConfig]), ReadModelModule, StreamLogModule.register()],
  controllers,
  providers: [
    { provide: ALERT_EVENTS, useFactory: (log: StreamLog) => new StreamAlertEventSink(log), inject: [STREAM_LOG] },
    { provide: CLOCK, useValue: Date.now },
    exposureCheck,
    ...httpProviders,
  ],
})
export class QueryApiModule {}
