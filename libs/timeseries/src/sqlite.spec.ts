import Database from 'better-sqlite3';
import { readingEnvelope } from '@meterstream/test-harness';
import { SqliteTimeSeriesSink } from './sqlite';
import { TimeSeriesSinkClosedError } from './time-series-sink';

const T0 = Date.parse('2026-11-29T05:00:00.000Z');
const MINUTE = 60_000;

describe('SqliteTimeSeriesSink', () => {
  let db: Database.Database;
  let sink: SqliteTimeSeriesSink;

  beforeEach(() => {
    db = new Database(':memory:');
    sink = new SqliteTimeSeriesSink(db);
  });

  afterEach(async () => {
    await sink.close();
    if (db.open) db.close();
  });

  it('stores each reading with its measures, absent ones as null', async () => {
    await sink.write([
      readingEnvelope('L07', 'm-1', T0, { voltage: 119.6, current: 8.2, kw: 0.95, powerFactor: 0.97, kwh: 10 }),
      readingEnvelope('L07', 'm-2', T0, { voltage: 121 }),
    ]);
    await sink.flush();
    expect(sink.range({ from: T0, to: T0 + 1 })).toEqual([
      { deviceId: 'm-1', lineId: 'L07', eventTime: T0, voltage: 119.6, current: 8.2, kw: 0.95, powerFactor: 0.97 },
      { deviceId: 'm-2', lineId: 'L07', eventTime: T0, voltage: 121, current: null, kw: null, powerFactor: null },
    ]);
  });

  it('is idempotent by (deviceId, event time): a replay adds nothing and the first reading wins', async () => {
    const batch = [0, 1, 2].map((i) => readingEnvelope('L07', 'm-1', T0 + i * MINUTE, { voltage: 119 + i }));
    expect(sink.writeSync(batch)).toBe(3);
    expect(sink.writeSync(batch)).toBe(0);
    // Same meter and instant, other values (e.g. a corrupted redelivery): ignored.
    await sink.write([readingEnvelope('L07', 'm-1', T0, { voltage: 99 }), readingEnvelope('L07', 'm-1', T0 + 3 * MINUTE, { voltage: 122 })]);
    const points = sink.range({ from: T0, to: T0 + 10 * MINUTE });
    expect(points.map((p) => [p.eventTime - T0, p.voltage])).toEqual([
      [0, 119],
      [MINUTE, 120],
      [2 * MINUTE, 121],
      [3 * MINUTE, 122],
    ]);
    expect(db.prepare('SELECT COUNT(*) AS n FROM ts_readings').get()).toEqual({ n: 4 });
  });

  it('answers a half-open time range, by meter or line, oldest first, up to a limit', async () => {
    const readings = [];
    for (let i = 0; i < 5; i++) {
      readings.push(readingEnvelope('L07', 'm-1', T0 + i * MINUTE, { voltage: 118 }));
      readings.push(readingEnvelope('L08', 'm-9', T0 + i * MINUTE, { voltage: 121 }));
    }
    await sink.write(readings);

    const window = { from: T0 + MINUTE, to: T0 + 3 * MINUTE };
    expect(sink.range(window).map((p) => `${p.deviceId}@${(p.eventTime - T0) / MINUTE}`)).toEqual(['m-1@1', 'm-9@1', 'm-1@2', 'm-9@2']);
    expect(sink.range({ ...window, deviceId: 'm-9' }).map((p) => p.deviceId)).toEqual(['m-9', 'm-9']);
    expect(sink.range({ ...window, lineId: 'L07' }).map((p) => p.lineId)).toEqual(['L07', 'L07']);
    expect(sink.range({ ...window, lineId: 'L07', deviceId: 'm-9' })).toEqual([]);
    expect(sink.range({ from: T0, to: T0 + 10 * MINUTE, limit: 3 })).toHaveLength(3);
  });

  it('keeps its table across sinks on one database (migration is idempotent)', async () => {
    await sink.write([readingEnvelope('L07', 'm-1', T0, { voltage: 119 })]);
    const again = new SqliteTimeSeriesSink(db);
    expect(again.range({ from: T0, to: T0 + 1 })).toHaveLength(1);
  });

  it('refuses writes after close and leaves a handed-in database open', async () => {
    await sink.close();
    await expect(sink.write([readingEnvelope('L07', 'm-1', T0, { voltage: 119 })])).rejects.toBeInstanceOf(TimeSeriesSinkClosedError);
    expect(db.open).toBe(true);
  });

  it('closes a database it owns', async () => {
    const own = new Database(':memory:');
    await new SqliteTimeSeriesSink(own, { ownsDatabase: true }).close();
    expect(own.open).toBe(false);
  });
});
