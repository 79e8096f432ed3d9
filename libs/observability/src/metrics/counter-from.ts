import { Counter, type Registry } from 'prom-client';

/**
 * A Prometheus counter over a running total that something else keeps (a component's own
 * counters): at each scrape it advances by what the total grew since the last one. Typed as a
 * counter, so rate() and increase() work and a restart reads as a counter reset.
 */
export function counterFrom(registry: Registry, name: string, help: string, read: () => number): Counter {
  let seen = 0;
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const total = read();
      if (total > seen) this.inc(total - seen);
      seen = Math.max(seen, total);
    },
  });
}

/** The same per label set: `read` returns the running totals by label value (e.g. per partition or channel). */
export function labelledCounterFrom<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Record<L, string>, number]>): Counter<L> {
  const seen = new Map<string, number>();
  return new Counter<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      for (const [labels, total] of read()) {
        const key = JSON.stringify(labels);
        const before = seen.get(key) ?? 0;
        if (total > before) this.inc(labels as never, total - before);
        seen.set(key, Math.max(before, total));
      }
    },
  });
}
