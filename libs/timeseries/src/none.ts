import type { ReadingEnvelope } from '@meterstream/contracts';
import type { TimeSeriesSink } from './time-series-sink';

/** TIMESERIES_BACKEND=none: readings are not kept as time series (the stream still has them). */
export class NoTimeSeriesSink implements TimeSeriesSink {
  readonly name = 'none';

  async write(_readings: readonly ReadingEnvelope[]): Promise<void> {
    // Deliberately discarded.
  }

  async flush(): Promise<void> {
    // Nothing buffered.
  }

  async close(): Promise<void> {
    // Nothing held.
  }
}
