import type { AggregateQuery, AlertQuery, ReadModel, ReadModelBatch, TimeRange } from '@meterstream/read-model';

/**
 * The processor's read model with a tally on the side: how many readings the per-line windows it
 * was given account for. Windows are counted once per id, because the distributed processor's
 * outputs are at-least-once (a rolled-back poll applies the same windows again). The tally is
 * taken after the real apply resolved, so reaching the target means the read model holds it all.
 */
export class CountingReadModel implements ReadModel {
  private readonly windows = new Set<string>();
  private aggregatedReadings = 0;
  private waiter: { target: number; resolve(): void } | undefined;

  constructor(private readonly inner: ReadModel) {}

  /** Readings accounted for by the distinct per-line windows applied so far. */
  get aggregated(): number {
    return this.aggregatedReadings;
  }

  /** Resolves as soon as the applied windows account for at least `target` readings. */
  untilAggregated(target: number): Promise<void> {
    if (this.aggregatedReadings >= target) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = { target, resolve }));
  }

  async apply(batch: ReadModelBatch): Promise<void> {
    await this.inner.apply(batch);
    for (const aggregate of batch.aggregates ?? []) {
      if (aggregate.body.deviceId !== undefined || this.windows.has(aggregate.id)) continue;
      this.windows.add(aggregate.id);
      this.aggregatedReadings += aggregate.body.count;
    }
    if (this.waiter && this.aggregatedReadings >= this.waiter.target) {
      this.waiter.resolve();
      this.waiter = undefined;
    }
  }

  flush(): Promise<void> {
    return this.inner.flush();
  }
  pruneReadings(olderThan: number): Promise<number> {
    return this.inner.pruneReadings(olderThan);
  }
  lines() {
    return this.inner.lines();
  }
  line(lineId: string) {
    return this.inner.line(lineId);
  }
  aggregates(lineId: string, range: TimeRange, query?: AggregateQuery) {
    return this.inner.aggregates(lineId, range, query);
  }
  readings(lineId: string, range: TimeRange, limit: number) {
    return this.inner.readings(lineId, range, limit);
  }
  alerts(query: AlertQuery) {
    return this.inner.alerts(query);
  }
  deadLetters(...args: Parameters<ReadModel['deadLetters']>) {
    return this.inner.deadLetters(...args);
  }
  deadLetterCount(): Promise<number> {
    return this.inner.deadLetterCount();
  }
  cvrHours(lineId: string | null, range: TimeRange): ReturnType<ReadModel['cvrHours']> {
    return this.inner.cvrHours(lineId, range);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
