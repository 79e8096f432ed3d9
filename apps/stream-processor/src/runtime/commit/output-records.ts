import { encodeEnvelope, STREAMS, type Envelope } from '@meterstream/contracts';
import type { ProcessorOutput } from '@meterstream/processing';
import type { AppendRecord } from '@meterstream/stream';

/** A poll's outputs as records per output stream (keyed by line, so per-line order holds), empty streams left out. */
export function outputRecords(output: ProcessorOutput): [stream: string, records: AppendRecord[]][] {
  const toRecords = (envelopes: readonly Envelope[]) => envelopes.map((e) => ({ key: e.lineId, value: encodeEnvelope(e) }));
  const streams: [string, readonly Envelope[]][] = [
    [STREAMS.aggregates, output.aggregates],
    [STREAMS.alerts, output.alerts],
    [STREAMS.lateReadings, output.late],
  ];
  return streams.filter(([, envelopes]) => envelopes.length > 0).map(([stream, envelopes]) => [stream, toRecords(envelopes)]);
}
