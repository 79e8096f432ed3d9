import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { TimeSeriesConfig } from '@meterstream/config';
import { NoTimeSeriesSink } from './none';
import { SqliteTimeSeriesSink } from './sqlite';
import type { TimeSeriesSink } from './time-series-sink';
import { TimestreamSink } from './timestream';

/**
 * Picks the time-series adapter from TIMESERIES_BACKEND. For 'sqlite', pass the handle the
 * service already has open (the sink then leaves it open on close); without one, the sink opens
 * the configured database file itself (WAL, 5 s busy timeout) and closes it on close.
 */
export function createTimeSeriesSink(config: TimeSeriesConfig, db?: Database.Database): TimeSeriesSink {
  switch (config.TIMESERIES_BACKEND) {
    case 'none':
      return new NoTimeSeriesSink();
    case 'timestream':
      return TimestreamSink.fromConfig(config);
    case 'sqlite': {
      if (db) return new SqliteTimeSeriesSink(db);
      fs.mkdirSync(path.dirname(config.databaseFile), { recursive: true });
      const own = new Database(config.databaseFile);
      try {
        own.pragma('busy_timeout = 5000');
        own.pragma('journal_mode = WAL');
        return new SqliteTimeSeriesSink(own, { ownsDatabase: true });
      } catch (err) {
        own.close();
        throw err;
      }
    }
  }
}
