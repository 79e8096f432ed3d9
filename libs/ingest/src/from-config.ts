import type { IngestConfig } from '@meterstream/config';
import type { StreamLog } from '@meterstream/stream';
import { Ingest } from './ingest';

/** The ingest with the contract's bounds from configuration (MAX_CLOCK_SKEW_MS, EARLIEST_EVENT_TIME, MAX_PAYLOAD_*). */
export function createIngest(log: StreamLog, config: IngestConfig): Ingest {
  return new Ingest(log, {
    maxFutureSkewMs: config.MAX_CLOCK_SKEW_MS,
    earliestEventTime: Date.parse(config.EARLIEST_EVENT_TIME),
    maxPayloadBytes: config.MAX_PAYLOAD_BYTES,
    maxDepth: config.MAX_PAYLOAD_DEPTH,
  });
}
