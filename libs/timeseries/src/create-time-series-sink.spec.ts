import * as path from 'node:path';
import Database from 'better-sqlite3';
import { loadConfig } from '@meterstream/config';
import { makeTempDir, readingEnvelope } from '@meterstream/test-harness';
import { createTimeSeriesSink } from './create-time-series-sink';
import { NoTimeSeriesSink } from './none';
import { SqliteTimeSeriesSink } from './sqlite';
import { TimestreamSink } from './timestream';

const T0 = Date.parse('2026-11-29T05:00:00.000Z');

describe('createTimeSeriesSink', () => {
  it('defaults to SQLite on the handle it is given, and leaves that handle open', async () => {
    const db = new Database(':memory:');
    const sink = createTimeSeriesSink(loadConfig({}), db);
    expect(sink).toBeInstanceOf(SqliteTimeSeriesSink);
    await sink.write([readingEnvelope('L07', 'm-1', T0, { voltage: 119 })]);
    await sink.close();
    expect(db.prepare('SELECT COUNT(*) AS n FROM ts_readings').get()).toEqual({ n: 1 });
    db.close();
  });

  it('opens (and later closes) the configured database file when no handle is given', async () => {
    const { dir, cleanup } = makeTempDir('meterstream-ts-');
    try {
      const sink = createTimeSeriesSink(loadConfig({ DATA_DIR: path.join(dir, 'data') }));
      await sink.write([readingEnvelope('L07', 'm-1', T0, { voltage: 119 })]);
      await sink.close();
      const db = new Database(path.join(dir, 'data', 'meterstream.db'), { readonly: true });
      expect(db.prepare('SELECT device_id FROM ts_readings').all()).toEqual([{ device_id: 'm-1' }]);
      db.close();
    } finally {
      cleanup();
    }
  });

  it("picks Timestream or nothing by TIMESERIES_BACKEND ('none' discards)", async () => {
    const timestream = createTimeSeriesSink(loadConfig({ TIMESERIES_BACKEND: 'timestream', TIMESTREAM_ENDPOINT: 'http://127.0.0.1:15000' }));
    expect(timestream).toBeInstanceOf(TimestreamSink);
    await timestream.close();
    const none = createTimeSeriesSink(loadConfig({ TIMESERIES_BACKEND: 'none' }));
    expect(none).toBeInstanceOf(NoTimeSeriesSink);
    await none.write([readingEnvelope('L07', 'm-1', T0, { voltage: 119 })]);
    await none.close();
  });
});
