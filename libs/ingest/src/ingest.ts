import { deadLetterFor, encodeEnvelope, parseMessage, STREAMS } from '@meterstream/contracts';
import type { AppendRecord, StreamLog } from '@meterstream/stream';

/** One message as it arrived: its topic and its bytes, exactly (MQTT, or an IoT rule's record). */
export interface IncomingMessage {
  topic: string;
  payload: Buffer;
}

export interface IngestCounters {
  readings: number;
  deadLetters: number;
  batches: number;
}

/**
 * Ingest, free of MQTT (the embedded broker and the external-broker bridge both use it): validates a batch of messages and appends the readings to
 * `readings` and everything invalid to `dead-letters` with its reason and raw bytes. The batch is
 * acknowledged to the broker only after this resolves, so it must not resolve before both appends
 * are durable — and it throws (leaving the batch unacknowledged, to be retried) if either fails.
 */
export class Ingest {
  readonly counters: IngestCounters = { readings: 0, deadLetters: 0, batches: 0 };

  constructor(
    private readonly log: StreamLog,
    private readonly options: { maxFutureSkewMs: number; now?: () => number },
  ) {}

  async ingest(messages: readonly IncomingMessage[]): Promise<void> {
    const ingestTime = (this.options.now ?? Date.now)();
    const readings: AppendRecord[] = [];
    const deadLetters: AppendRecord[] = [];
    for (const message of messages) {
      // A message holds one reading (a meter) or an array of them (a data concentrator).
      const parsed = parseMessage(message.topic, message.payload, { ingestTime, maxFutureSkewMs: this.options.maxFutureSkewMs });
      for (const envelope of parsed.readings) readings.push({ key: envelope.lineId, value: encodeEnvelope(envelope) });
      const letter = deadLetterFor(message.topic, message.payload, parsed, ingestTime);
      if (letter) deadLetters.push({ key: letter.lineId, value: encodeEnvelope(letter) });
    }
    if (readings.length > 0) await this.log.append(STREAMS.readings, readings);
    if (deadLetters.length > 0) await this.log.append(STREAMS.deadLetters, deadLetters);
    this.counters.readings += readings.length;
    this.counters.deadLetters += deadLetters.length;
    this.counters.batches++;
  }
}
