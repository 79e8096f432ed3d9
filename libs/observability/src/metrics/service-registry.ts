import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** Every metric of meterstream starts with this, so one Prometheus job finds them all. */
export const METRIC_PREFIX = 'meterstream_';

/**
 * A service's own prom-client registry (not the global one, so tests and the launcher can hold
 * several): the process metrics prom-client collects by default (CPU, memory, event-loop lag,
 * GC, handles) under the standard names (`process_*`, `nodejs_*`), and an info metric naming the
 * service, `meterstream_service_info{service="stream-processor"} 1` (the `*_build_info` idiom:
 * dashboards find meterstream's scrape jobs by it; samples carry no extra label).
 */
export function createServiceRegistry(service: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({ name: 'meterstream_service_info', help: 'Which meterstream service this endpoint belongs to (always 1).', labelNames: ['service'], registers: [registry] }).set({ service }, 1);
  return registry;
}

/** Latency buckets (seconds) for a durable commit: an fsync takes milliseconds, a congested engine seconds. */
export const COMMIT_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Buckets (seconds) for event-time delays of a pipeline: from sub-second to an hour behind. */
export const DELAY_SECONDS_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
