import { counterFrom, COMMIT_SECONDS_BUCKETS } from '@meterstream/observability';
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { IncomingMessage, Ingest } from './ingest';

/** What the MQTT side (the embedded broker, or the bridge's durable subscriber) counts. */
export interface IngestTransportFigures {
  /** Messages handed to ingest (a redelivered one counts again). */
  received(): number;
  /** Messages acknowledged after their batch committed. */
  acknowledged(): number;
  /** Messages waiting for their batch to commit. */
  inFlight(): number;
}

/**
 * The ingest's Prometheus metrics, wherever it runs (the bridge process, or `npm start` with its
 * embedded broker): messages received, acknowledged (their batch committed: the publisher or
 * broker got its PUBACK) and dead-lettered, readings stored, the latency of each batch's durable
 * commit, and the messages in flight (backpressure starts at BRIDGE_MAX_INFLIGHT).
 */
export class IngestMetrics {
  private readonly commitSeconds: Histogram<'outcome'>;

  constructor(
    registry: Registry,
    private readonly ingest: Ingest,
    transport: IngestTransportFigures,
  ) {
    counterFrom(registry, 'meterstream_ingest_messages_received_total', 'MQTT messages handed to ingest (a concentrator batch is one message; a redelivery counts again).', () =>
      transport.received(),
    );
    counterFrom(registry, 'meterstream_ingest_messages_acknowledged_total', 'Messages acknowledged to the publisher or broker after their batch was committed durably.', () =>
      transport.acknowledged(),
    );
    counterFrom(registry, 'meterstream_ingest_dead_letters_total', 'Dead letters stored (malformed messages, and messages the log refused).', () => ingest.counters.deadLetters);
    counterFrom(registry, 'meterstream_ingest_readings_total', 'Readings appended to the readings stream.', () => ingest.counters.readings);
    this.commitSeconds = new Histogram({
      name: 'meterstream_ingest_batch_commit_seconds',
      help: 'Time to validate and durably append one group-committed batch; outcome="failed" when the log was unavailable (the batch stays unacknowledged and is retried).',
      labelNames: ['outcome'],
      buckets: COMMIT_SECONDS_BUCKETS,
      registers: [registry],
    });
    new Gauge({
      name: 'meterstream_ingest_in_flight',
      help: 'Messages received and not yet acknowledged (waiting for their batch to commit).',
      registers: [registry],
      collect() {
        this.set(transport.inFlight());
      },
    });
  }

  /** The ingest as a batch handler for the broker or subscriber, each commit timed. */
  handler<M extends IncomingMessage>(): (messages: readonly M[]) => Promise<void> {
    return async (messages) => {
      const stop = this.commitSeconds.startTimer();
      try {
        await this.ingest.ingest(messages);
        stop({ outcome: 'ok' });
      } catch (err) {
        stop({ outcome: 'failed' });
        throw err;
      }
    };
  }
}
