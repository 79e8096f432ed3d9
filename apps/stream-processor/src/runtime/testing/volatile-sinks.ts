import type { ReadingEnvelope } from '@meterstream/contracts';
import type { ReadModel, ReadModelBatch } from '@meterstream/read-model';
import type { TimeSeriesWriter } from '../time-series-writer';

/**
 * A read model that buffers like Elasticsearch's bulk writer: apply() only queues, flush() makes
 * the queue durable in the wrapped model, crash() loses the queue as a killed process would.
 * A runtime that checkpointed before flushing would lose rows through it.
 */
export class BufferingReadModel implements ReadModel {
  private pending: ReadModelBatch[] = [];

  constructor(private readonly durable: ReadModel) {}

  async apply(batch: ReadModelBatch): Promise<void> {
    this.pending.push(batch);
  }

  async flush(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const batch of pending) await this.durable.apply(batch);
  }

  /** The process died: what was not flushed is gone. */
  crash(): void {
    this.pending = [];
  }

  pruneReadings(olderThan: number): Promise<number> {
    return this.durable.pruneReadings(olderThan);
  }
  lines: ReadModel['lines'] = () => this.durable.lines();
  line: ReadModel['line'] = (lineId) => this.durable.line(lineId);
  aggregates: ReadModel['aggregates'] = (lineId, range, query) => this.durable.aggregates(lineId, range, query);
  readings: ReadModel['readings'] = (lineId, range, limit) => this.durable.readings(lineId, range, limit);
  alerts: ReadModel['alerts'] = (query) => this.durable.alerts(query);
  deadLetters: ReadModel['deadLetters'] = (limit, after) => this.durable.deadLetters(limit, after);
  deadLetterCount: ReadModel['deadLetterCount'] = () => this.durable.deadLetterCount();
  cvrHours: ReadModel['cvrHours'] = (lineId, range) => this.durable.cvrHours(lineId, range);
  // The durable model belongs to the test.
  async close(): Promise<void> {}
}

/** A time-series sink that buffers until flush(); `durable` (reading id → reading) may be shared by several writers. */
export class BufferingTimeSeries implements TimeSeriesWriter {
  private pending: ReadingEnvelope[] = [];

  constructor(readonly durable: Map<string, ReadingEnvelope> = new Map()) {}

  async write(readings: readonly ReadingEnvelope[]): Promise<void> {
    this.pending.push(...readings);
  }

  async flush(): Promise<void> {
    // Idempotent by id, first write wins, as the real sinks are.
    for (const reading of this.pending) if (!this.durable.has(reading.id)) this.durable.set(reading.id, reading);
    this.pending = [];
  }

  crash(): void {
    this.pending = [];
  }
}
