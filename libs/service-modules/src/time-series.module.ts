import { Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import type Database from 'better-sqlite3';
import type { TimeSeriesConfig } from '@meterstream/config';
import { timeSeriesConfig } from '@meterstream/config/nest';
import type { TimeSeriesSink } from '@meterstream/timeseries';
import { OPTIONAL_EMBEDDED_DATABASE, TIME_SERIES_SINK } from './tokens';

/**
 * The time-series sink (createTimeSeriesSink, namespace `timeSeries`: SQLite, Timestream or none).
 * Null on the shared embedded database: the embedded processor's transaction keeps raw readings
 * in the read model and writes no separate series. The library is imported only when a sink is
 * built: it pulls in the Timestream SDK, which the embedded default never needs.
 */
@Module({
  providers: [
    {
      provide: TIME_SERIES_SINK,
      useFactory: async (config: TimeSeriesConfig, db?: Database.Database | null): Promise<TimeSeriesSink | null> => {
        if (db) return null;
        const { createTimeSeriesSink } = await import('@meterstream/timeseries');
        return createTimeSeriesSink(config);
      },
      inject: [timeSeriesConfig.KEY, OPTIONAL_EMBEDDED_DATABASE],
    },
  ],
  exports: [TIME_SERIES_SINK],
})
export class TimeSeriesModule implements OnModuleDestroy {
  constructor(@Inject(TIME_SERIES_SINK) private readonly sink: TimeSeriesSink | null) {}

  async onModuleDestroy(): Promise<void> {
    await this.sink?.close();
  }
}
