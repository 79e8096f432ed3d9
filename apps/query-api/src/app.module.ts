import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD, APP_PIPE } from '@nestjs/core';
import type { Config } from '@meterstream/config';
import type { ReadModel } from '@meterstream/read-model';
import { AlertsController } from './alerts/alerts.controller';
import { BearerTokenGuard } from './auth/bearer-token.guard';
import type { AlertEventSink } from './alerts/alert-events';
import { ALERT_EVENTS, API_CONFIG, CLOCK, READ_MODEL, type Clock } from './common/tokens';
import { createValidationPipe } from './common/validation';
import { DashboardController } from './dashboard/dashboard.controller';
import { DeadLettersController } from './dead-letters/dead-letters.controller';
import { HealthController } from './health/health.controller';
import { LinesController } from './lines/lines.controller';
import { MetricsController } from './metrics/metrics.controller';

export interface AppModuleOptions {
  readModel: ReadModel;
  alertEvents: AlertEventSink;
  config: Config;
  clock: Clock;
}

/** The API is a thin shell over the read model port; the launcher decides which adapter. */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      controllers: [HealthController, LinesController, AlertsController, DeadLettersController, DashboardController, MetricsController],
      providers: [
        { provide: READ_MODEL, useValue: options.readModel },
        { provide: API_CONFIG, useValue: options.config },
        { provide: ALERT_EVENTS, useValue: options.alertEvents },
        { provide: CLOCK, useValue: options.clock },
        { provide: APP_GUARD, useClass: BearerTokenGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
      ],
    };
  }
}
