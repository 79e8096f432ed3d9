import { encodeEnvelope, STREAMS, type Envelope } from '@meterstream/contracts';
import type { ProcessorOutput } from '@meterstream/processing';
import type { AppendRecord } from '@meterstream/stream';
import { rejectedDeadLetters } from './rejected-readings';

/**
 * A poll's outputs as records per output stream (keyed by line, so per-line order holds), empty
 * streams left out. Readings the topology rejected (a meter clock far ahead of its line) go to
 * `dead-letters`: their line's partition there is carried by the same readings partition.
 */
export function outputRecords(output: ProcessorOutput): [stream: string, records: AppendRecord[]][] {
  const toRecords = (envelopes: readonly Envelope[]) => envelopes.map((e) => ({ key: e.lineId, value: encodeEnvelope(e) }));
  const streams: [string, readonly Envelope[]][] = [
    [STREAMS.aggregates, output.aggregates],
    [STREAMS.alerts, output.alerts],
    [STREAMS.lateReadings, output.late],
    [STREAMS.deadLetters, rejectedDeadLetters(output.rejected)],
  ];
  return streams.filter(([, envelopes]) => envelopes.length > 0).map(([stream, envelopes]) => [stream, toRecords(envelopes)]);
}
