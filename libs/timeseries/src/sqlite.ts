import type Database from 'better-sqlite3';
import type { ReadingEnvelope } from '@meterstream/contracts';
import { TimeSeriesSinkClosedError, type TimeSeriesPoint, type TimeSeriesRangeQuery, type TimeSeriesSink } from './time-series-sink';

const DEFAULT_RANGE_LIMIT = 10_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ts_readings (
  device_id    TEXT    NOT NULL,
  event_time   INTEGER NOT NULL,
  line_id      TEXT    NOT NULL,
  voltage      REAL    NOT NULL,
  current      REAL,
  kw           REAL,
  power_factor REAL,
  PRIMARY KEY (device_id, event_time)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ts_readings_line_time ON ts_readings (line_id, event_time);
`;

interface PointRow {
  device_id: string;
  line_id: string;
  event_time: number;
  voltage: number;
  current: number | null;
  kw: number | null;
  power_factor: number | null;
}

/**
 * The embedded time-series sink: table `ts_readings` in a SQLite database handed in (usually the
 * same file as the embedded stream log). Writes go straight to the table in one transaction per
 * call, so `flush()` has nothing left to do; durability is the handle's `synchronous` setting.
 *
 * Idempotent by its primary key (device_id, event_time): INSERT OR IGNORE, so the first reading
 * of a meter at an instant wins and a replayed range changes nothing.
 */
export class SqliteTimeSeriesSink implements TimeSeriesSink {
  readonly name = 'sqlite';
  private readonly insertMany: (readings: readonly ReadingEnvelope[]) => number;
  private closed = false;

  /**
   * Creates the table when missing (idempotent). The caller owns the handle unless
   * `ownsDatabase` is set, in which case `close()` closes it.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly options: { ownsDatabase?: boolean } = {},
  ) {
    db.exec(SCHEMA);
    const insert = db.prepare(
      `INSERT OR IGNORE INTO ts_readings (device_id, event_time, line_id, voltage, current, kw, power_factor)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertMany = db.transaction((readings: readonly ReadingEnvelope[]) => {
      let inserted = 0;
      for (const r of readings) {
        const b = r.body;
        inserted += insert.run(b.deviceId, r.eventTime, r.lineId, b.voltage, b.current ?? null, b.kw ?? null, b.powerFactor ?? null).changes;
      }
      return inserted;
    });
  }

  async write(readings: readonly ReadingEnvelope[]): Promise<void> {
    this.writeSync(readings);
  }

  /**
   * Synchronous write, for a caller that wants the rows inside its own SQLite transaction (e.g.
   * committed together with a checkpoint). Returns how many readings were new.
   */
  writeSync(readings: readonly ReadingEnvelope[]): number {
    if (this.closed) throw new TimeSeriesSinkClosedError(this.name);
    return readings.length === 0 ? 0 : this.insertMany(readings);
  }

  async flush(): Promise<void> {
    // Every write committed already.
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.options.ownsDatabase) this.db.close();
  }

  /** Stored points in [from, to), oldest first, optionally of one meter or one line. */
  range(query: TimeSeriesRangeQuery): TimeSeriesPoint[] {
    const where = ['event_time >= @from', 'event_time < @to'];
    const params: Record<string, string | number> = { from: query.from, to: query.to, limit: query.limit ?? DEFAULT_RANGE_LIMIT };
    if (query.deviceId !== undefined) {
      where.push('device_id = @deviceId');
      params.deviceId = query.deviceId;
    }
    if (query.lineId !== undefined) {
      where.push('line_id = @lineId');
      params.lineId = query.lineId;
    }
    const rows = this.db
      .prepare(`SELECT * FROM ts_readings WHERE ${where.join(' AND ')} ORDER BY event_time, device_id LIMIT @limit`)
      .all(params) as PointRow[];
    return rows.map((row) => ({
      deviceId: row.device_id,
      lineId: row.line_id,
      eventTime: row.event_time,
      voltage: row.voltage,
      current: row.current,
      kw: row.kw,
      powerFactor: row.power_factor,
    }));
  }
}
