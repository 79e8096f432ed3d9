import type { AlertEnvelope } from '@meterstream/contracts';
import type { StreamRecord } from '@meterstream/stream';

/**
 * The stream of alert events a channel gave up on (retry budget spent, or a permanent error).
 * Kept in this lib rather than in the contracts' STREAMS: it is the alert channels' own side
 * output, written and read by nothing else. Partition key: the alert's lineId.
 */
export const ALERT_DEAD_LETTERS_STREAM = 'alert-dead-letters';

/** One record of ALERT_DEAD_LETTERS_STREAM (JSON). */
export interface AlertDeadLetter {
  /** `${channel}:${alert envelope id}`: a dead letter written twice (crash in between) keeps its id. */
  id: string;
  channel: string;
  /** The last error, as the channel reported it. */
  reason: string;
  /** Delivery attempts made (0: the record was not an alert envelope, nothing was attempted). */
  attempts: number;
  /** Epoch ms. */
  deadLetteredAt: number;
  /** Where the event sits on the alerts stream, to find it or replay it. */
  source: { stream: string; partition: string; position: string };
  /** The alert event, when the record could be decoded as one. */
  alert?: AlertEnvelope;
  /** The record's bytes (base64) when it could not be decoded as an alert envelope. */
  payload?: string;
}

export function alertDeadLetter(
  channel: string,
  record: StreamRecord,
  alert: AlertEnvelope | undefined,
  reason: string,
  attempts: number,
  deadLetteredAt: number,
): AlertDeadLetter {
  return {
    id: `${channel}:${alert?.id ?? `${record.stream}/${record.partition}/${record.position}`}`,
    channel,
    reason,
    attempts,
    deadLetteredAt,
    source: { stream: record.stream, partition: record.partition, position: record.position },
    ...(alert ? { alert } : { payload: record.value.toString('base64') }),
  };
}

export function decodeAlertDeadLetter(bytes: Buffer): AlertDeadLetter {
  return JSON.parse(bytes.toString('utf8')) as AlertDeadLetter;
}
