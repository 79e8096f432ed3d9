import { showValue, type FieldError } from '@meterstream/contracts';
import type { IncomingMessage } from './ingest';

/**
 * The record an AWS IoT topic rule writes to the raw Kinesis stream for one MQTT message, with
 *
 *   SELECT encode(*, 'base64') AS payload, topic() AS topic, timestamp() AS receivedAt
 *   FROM 'line/+/SmartMeterData'
 *
 * (SQL version 2016-03-23, which encode() needs) and the Kinesis action's partition key
 * `${topic(2)}`, the line. The record's data is that SELECT's JSON object:
 *
 * - `payload`: the message's bytes, base64 — `encode(*, 'base64')` encodes the whole payload
 *   whatever it is, so a message that is not JSON (or not UTF-8) still arrives, byte for byte;
 * - `topic`: the topic it was published to;
 * - `receivedAt`: when the rules engine saw it, epoch milliseconds.
 *
 * deploy/src/iot-ingest.ts creates exactly this rule; `toIotRuleRecord` writes the same shape (for
 * tests and the bench).
 */
export interface IotRuleRecord {
  payload: string;
  topic: string;
  receivedAt: number;
}

/** A raw record decoded: the MQTT message it carries, with the time IoT Core received it. */
export type DecodedRawRecord = { ok: true; message: IncomingMessage } | { ok: false; message: IncomingMessage };

/** Standard base64 (RFC 4648 §4, padded), as the rules engine's encode(*, 'base64') writes it. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Epoch ms from 2000 to 9999: a timestamp() outside that is not one. */
const EARLIEST_RECEIVED_AT = Date.UTC(2000, 0, 1);
const LATEST_RECEIVED_AT = 253402300799999;

/** The record the rule writes for one message (what the engine test and the bench put on the raw stream). */
export function toIotRuleRecord(topic: string, payload: Buffer, receivedAt: number): Buffer {
  const record: IotRuleRecord = { payload: payload.toString('base64'), topic, receivedAt };
  return Buffer.from(JSON.stringify(record));
}

/**
 * The message a raw-stream record carries. A record in the rule's shape gives the message as it
 * was published (its bytes, its topic) and IoT Core's receive time, and from there the ingest
 * contract decides as it does for MQTT. A record that is not in the rule's shape (another writer
 * on the stream, a changed rule) gives a message that is already refused: its topic names where it
 * came from, its payload is the record's bytes exactly, so its dead letter keeps everything, and
 * its receive time is when Kinesis took it (so a re-read after a crash builds the same letter).
 *
 * Never throws.
 */
export function decodeIotRuleRecord(data: Buffer, partitionKey: string, appendTime: number): DecodedRawRecord {
  const problem = (message: string): DecodedRawRecord => {
    const rejection: FieldError = {
      field: '(record)',
      message: `not an IoT rule record (expected the JSON {"payload": base64 of the message, "topic": its topic, "receivedAt": epoch ms}): ${message}`,
    };
    return { ok: false, message: { topic: `(raw record, partition key ${showValue(partitionKey)})`, payload: data, receivedAt: appendTime, rejection } };
  };
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch (err) {
    return problem(`not JSON (${(err as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return problem(`not a JSON object but ${showValue(json)}`);
  const { payload, topic, receivedAt } = json as Record<string, unknown>;
  if (typeof payload !== 'string') return problem(`payload must be a base64 string, got ${showValue(payload)}`);
  if (!BASE64.test(payload)) return problem('payload is not standard base64');
  // Any string: a topic the contract refuses (even an empty one) is its dead letter, as on MQTT.
  if (typeof topic !== 'string') return problem(`topic must be a string, got ${showValue(topic)}`);
  if (typeof receivedAt !== 'number' || !Number.isSafeInteger(receivedAt) || receivedAt < EARLIEST_RECEIVED_AT || receivedAt > LATEST_RECEIVED_AT) {
    return problem(`receivedAt must be epoch milliseconds (the rule's timestamp()), got ${showValue(receivedAt)}`);
  }
  return { ok: true, message: { topic, payload: Buffer.from(payload, 'base64'), receivedAt } };
}
