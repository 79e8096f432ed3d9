import { STREAMS, type AlertEnvelope } from '@meterstream/contracts';
import { counterFrom, DELAY_SECONDS_BUCKETS, labelledCounterFrom } from '@meterstream/observability';
import type { ProcessorOutput } from '@meterstream/processing';
import type { StreamLog } from '@meterstream/stream';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { StreamProcessor } from '../runtime/stream-processor';

/**
 * The stream processor's Prometheus metrics. Figures the runtime keeps (records per partition,
 * positions, watermarks, open windows, model installations) are read at scrape time; what happens
 * per poll (windows fired, alerts emitted) is observed through StreamProcessor's onCommitted hook.
 *
 * - records per partition (`meterstream_processor_records_total{partition,stream}`), repeats after
 *   a rolled-back poll counted again;
 * - consumer lag per partition (`meterstream_processor_consumer_lag_records`): records of the log
 *   after the processor's position (the log's end minus the position). The embedded log and Kafka
 *   (high watermark) report it; Kinesis cannot count records between sequence numbers, so there
 *   is no sample (its lag is CloudWatch's iterator age, GetRecords.IteratorAgeMilliseconds);
 * - watermark delay per partition: the wall clock minus the slowest line's watermark;
 * - window firing delay: when a window fired (processing time) minus its end (event time);
 * - publish-to-alert latency: when an alert was committed minus the ingest time of the reading
 *   that completed its evidence (the broker's acknowledgement of it);
 * - open windows, published model versions installed, alerts emitted by state.
 */
export class ProcessorMetrics {
  private readonly windowFiringDelay: Histogram;
  private readonly publishToAlert: Histogram<'kind'>;
  private readonly alertEvents: Map<string, number> = new Map();
  private processor: StreamProcessor | undefined;

  constructor(
    registry: Registry,
    private readonly log: StreamLog,
    private readonly now: () => number = Date.now,
  ) {
    const registers = [registry];
    const figures = () => this.processor?.partitionFigures() ?? [];
    labelledCounterFrom(registry, 'meterstream_processor_records_total', 'Input records processed per readings partition (stream="readings"), and dead letters carried with it (stream="dead-letters").', ['partition', 'stream'], () =>
      [...(this.processor?.partitionCounters ?? new Map<string, { readings: number; deadLetters: number }>())].flatMap(([partition, c]): [Record<'partition' | 'stream', string>, number][] => [
        [{ partition, stream: STREAMS.readings }, c.readings],
        [{ partition, stream: STREAMS.deadLetters }, c.deadLetters],
      ]),
    );
    counterFrom(registry, 'meterstream_processor_aggregates_total', 'Window aggregates emitted.', () => this.processor?.counters.aggregates ?? 0);
    counterFrom(registry, 'meterstream_processor_late_readings_total', 'Readings that arrived after their window fired (to late-readings).', () => this.processor?.counters.late ?? 0);
    counterFrom(registry, 'meterstream_processor_checkpoints_total', 'Checkpoints saved.', () => this.processor?.counters.checkpoints ?? 0);
    counterFrom(registry, 'meterstream_processor_rollbacks_total', 'Polls rolled back to the last checkpoint after a failed write.', () => this.processor?.counters.rollbacks ?? 0);
    counterFrom(registry, 'meterstream_processor_model_updates_total', 'Published voltage model versions installed (retrain --publish) without a restart.', () => this.processor?.modelInstallations ?? 0);
    labelledCounterFrom(registry, 'meterstream_processor_alert_events_total', 'Alert events emitted, by state (raised, cleared, …) and kind.', ['state', 'kind'], () =>
      [...this.alertEvents].map(([key, n]): [Record<'state' | 'kind', string>, number] => {
        const [state, kind] = key.split('\u0000');
        return [{ state, kind }, n];
      }),
    );
    // Read in the gauges' collect(), whose `this` is the gauge.
    const processor = () => this.processor;
    new Gauge({
      name: 'meterstream_processor_model_version',
      help: 'The voltage model version every owned partition runs with at least (0: learned online only).',
      registers,
      collect() {
        this.set(processor()?.modelVersion ?? 0);
      },
    });
    new Gauge({
      name: 'meterstream_processor_open_windows',
      help: 'Windows open (not fired yet), per owned partition, per-meter windows included.',
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        for (const f of figures()) this.set({ partition: f.partition }, f.openWindows);
      },
    });
    new Gauge({
      name: 'meterstream_processor_consumer_lag_records',
      help: "Records of the readings stream after the processor's position, per owned partition (log end minus position). Not reported on Kinesis.",
      labelNames: ['partition'],
      registers,
      async collect() {
        this.reset();
        await Promise.all(
          figures().map(async (f) => {
            const lag = await log.backlog(STREAMS.readings, f.partition, f.position).catch(() => null);
            if (lag !== null) this.set({ partition: f.partition }, lag);
          }),
        );
      },
    });
    new Gauge({
      name: 'meterstream_processor_watermark_delay_seconds',
      help: "Wall clock minus the slowest line's watermark, per owned partition: how far event time lags behind now.",
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        const at = now();
        for (const f of figures()) if (f.slowestWatermark !== null) this.set({ partition: f.partition }, Math.max(0, at - f.slowestWatermark) / 1000);
      },
    });
    new Gauge({
      name: 'meterstream_processor_owned_partitions',
      help: 'Readings partitions this instance owns (its share of the consumer group).',
      registers,
      collect() {
        this.set(figures().length);
      },
    });
    this.windowFiringDelay = new Histogram({
      name: 'meterstream_processor_window_firing_delay_seconds',
      help: 'Processing time a window fired minus its end in event time (out-of-orderness, allowed lateness and delivery delay).',
      buckets: DELAY_SECONDS_BUCKETS,
      registers,
    });
    this.publishToAlert = new Histogram({
      name: 'meterstream_processor_publish_to_alert_seconds',
      help: 'Time from the ingest of the reading that completed an alert’s evidence to the alert being committed to the alerts stream.',
      labelNames: ['kind'],
      buckets: DELAY_SECONDS_BUCKETS,
      registers,
    });
  }

  /** The processor whose figures are read at scrape time. */
  attach(processor: StreamProcessor): void {
    this.processor = processor;
  }

  /** StreamProcessor's onCommitted hook. */
  committed(output: ProcessorOutput, now: number): void {
    for (const aggregate of output.aggregates) this.windowFiringDelay.observe(Math.max(0, now - aggregate.body.windowEnd) / 1000);
    for (const alert of output.alerts) this.alertEmitted(alert, now);
  }

  private alertEmitted(alert: AlertEnvelope, now: number): void {
    const key = `${alert.body.state}\u0000${alert.body.kind}`;
    this.alertEvents.set(key, (this.alertEvents.get(key) ?? 0) + 1);
    if (alert.body.state === 'raised') this.publishToAlert.observe({ kind: alert.body.kind }, Math.max(0, now - alert.ingestTime) / 1000);
  }
}
