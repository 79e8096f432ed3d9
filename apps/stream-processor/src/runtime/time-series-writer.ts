import type { ReadingEnvelope } from '@meterstream/contracts';

/**
 * Where accepted raw readings go for long-term history (SQLite, Amazon Timestream). Declared here,
 * minimal, so the processor does not depend on the time-series library: any sink with these two
 * methods fits structurally. Writes must be idempotent by reading id (the processor re-writes
 * what followed the last checkpoint after a crash) and may be buffered until flush().
 */
export interface TimeSeriesWriter {
  write(readings: readonly ReadingEnvelope[]): Promise<void>;
  /** Resolves once everything written so far is durable; the processor calls it before each checkpoint. */
  flush(): Promise<void>;
}
