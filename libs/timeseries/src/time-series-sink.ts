import type { ReadingEnvelope } from '@meterstream/contracts';

/**
 * The time-series sink port: where raw readings go for analysts (history per meter and line).
 * Adapters: SQLite (embedded default, `sqlite.ts`) and Amazon Timestream (`timestream.ts`).
 *
 * Idempotent by (deviceId, event time): the first reading of a meter at an instant wins, and a
 * replayed range (a restart re-reading part of the stream) adds nothing and changes nothing.
 */
export interface TimeSeriesSink {
  /** Stable adapter name ('sqlite', 'timestream', 'none'), for logs and metrics. */
  readonly name: string;
  /**
   * Accepts readings. May buffer: a reading is durable only once a later `flush()` resolves.
   * Rejects when a buffer had to be flushed to make room and that flush failed.
   */
  write(readings: readonly ReadingEnvelope[]): Promise<void>;
  /**
   * Makes every reading accepted so far durable. When it rejects, the readings it could not
   * write stay buffered for the next flush (re-sending is harmless: writes are idempotent).
   */
  flush(): Promise<void>;
  /** Flushes, then releases what the sink owns. Writing after close rejects. */
  close(): Promise<void>;
}

/** One stored reading, as the range query of an adapter returns it. */
export interface TimeSeriesPoint {
  deviceId: string;
  lineId: string;
  /** Event time, epoch ms. */
  eventTime: number;
  voltage: number;
  current: number | null;
  kw: number | null;
  powerFactor: number | null;
}

export interface TimeSeriesRangeQuery {
  /** Inclusive, epoch ms. */
  from: number;
  /** Exclusive, epoch ms. */
  to: number;
  /** One meter only. */
  deviceId?: string;
  /** One line only. */
  lineId?: string;
  /** At most this many points (default 10 000), oldest first. */
  limit?: number;
}

/** Thrown by `write` after `close`. */
export class TimeSeriesSinkClosedError extends Error {
  constructor(name: string) {
    super(`the ${name} time-series sink is closed`);
  }
}
