import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { isUtf8 } from 'node:buffer';
import { ENVELOPE_VERSION, type DeadLetterEnvelope, type ReadingEnvelope } from './envelope';
import { deadLetterId, readingId } from './event-id';
import type { FieldError, Reading } from './reading';
import readingSchema from './reading.v1.schema.json';
import { showMessage, showValue } from './show-value';
import { lineIdFromTopic, parseReadingTopic } from './topics';

export interface ParseOptions {
  /** Wall-clock time the message arrived (epoch ms). */
  ingestTime: number;
  /** Readings stamped further than this ahead of ingestTime are rejected (a meter with a bad clock). */
  maxFutureSkewMs?: number;
  /**
   * Readings stamped before this instant (epoch ms) are rejected: a meter whose clock reset to its
   * epoch. Default DEFAULT_EARLIEST_EVENT_TIME (2000-01-01T00:00:00Z).
   */
  earliestEventTime?: number;
  /** Largest payload accepted, in bytes; larger ones are rejected unread. Default 256 KiB. */
  maxPayloadBytes?: number;
  /**
   * Deepest JSON nesting accepted (a reading is 1, a concentrator batch 2), checked on the raw
   * bytes before parsing. Default 16.
   */
  maxDepth?: number;
}

export type ParseResult =
  | { ok: true; envelope: ReadingEnvelope }
  | { ok: false; errors: FieldError[]; lineId: string | undefined; deviceId: string | null };

/** One reading of a message that failed the contract; `index` is set for an element of a batch. */
export interface Rejection {
  errors: FieldError[];
  deviceId: string | null;
  /** For an element of a concentrator batch: its index and the element itself. */
  batch?: { index: number; element: unknown };
}

export interface ParsedMessage {
  readings: ReadingEnvelope[];
  rejections: Rejection[];
}

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv, ['date-time']);
ajv.addSchema(readingSchema);
const validate = ajv.getSchema(`${readingSchema.$id}#/definitions/reading`)!;

export const DEFAULT_MAX_FUTURE_SKEW_MS = 60 * 60 * 1000;
export const DEFAULT_EARLIEST_EVENT_TIME = Date.parse('2000-01-01T00:00:00Z');
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;
export const DEFAULT_MAX_DEPTH = 16;
/** The schema's largest epoch-milliseconds time: the last millisecond of year 9999. */
const MAX_EPOCH_MS = readingSchema.definitions.reading.properties.timeStampEpoch.maximum;
/** The schema's smallest: anything less is more likely epoch seconds or a counter than a time. */
const MIN_EPOCH_MS = readingSchema.definitions.reading.properties.timeStampEpoch.minimum;
const MAX_ERRORS = 10;
const MAX_DEAD_LETTER_ERRORS = 50;
/** A data concentrator may send up to this many readings in one message. */
export const MAX_READINGS_PER_MESSAGE = 1000;

/**
 * Validates and normalises one MQTT message: a single reading (a meter) or an array of readings
 * of the topic's line (a data concentrator, which amortises the broker's per-message cost). Each
 * reading stands alone: the valid ones are kept, each invalid one is rejected with its own
 * errors, precise enough for a device maker to fix the payload. Never throws, whatever the topic
 * and the bytes: one bad message must never stop the flow of the others.
 */
export function parseMessage(topic: string, payload: Buffer, options: ParseOptions): ParsedMessage {
  try {
    return parseUnguarded(topic, payload, options);
  } catch (err) {
    // Nothing is known to throw above; should something, this message is rejected, not the batch.
    return wholeRejection({ field: '(payload)', message: `internal error while parsing: ${describeError(err)}` });
  }
}

function wholeRejection(error: FieldError): ParsedMessage {
  return { readings: [], rejections: [{ errors: [error], deviceId: null }] };
}

function parseUnguarded(topic: string, payload: Buffer, options: ParseOptions): ParsedMessage {
  const parsedTopic = parseReadingTopic(topic);
  if (!parsedTopic.ok) return wholeRejection({ field: '(topic)', message: parsedTopic.reason });
  const topicLineId = parsedTopic.lineId;

  // The cheap checks on the raw bytes come first: JSON.parse of a huge or deeply nested payload
  // costs memory, and code that recurses over the result (JSON.stringify) runs out of stack.
  const maxBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (payload.length > maxBytes) {
    return wholeRejection({ field: '(payload)', message: `is ${payload.length} bytes, over the size limit of ${maxBytes} bytes; send fewer readings per message` });
  }
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const depth = nestingDepth(payload);
  if (depth > maxDepth) {
    return wholeRejection({
      field: '(payload)',
      message: `is nested ${depth} levels deep, over the nesting limit of ${maxDepth} (a reading is 1 level, a concentrator array of readings 2)`,
    });
  }
  if (!isUtf8(payload)) {
    return wholeRejection({ field: '(payload)', message: `is not valid UTF-8 (first bad byte near offset ${firstBadUtf8Offset(payload)}); JSON must be sent as UTF-8` });
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return wholeRejection({ field: '(payload)', message: `not valid JSON: ${describeError(err)}` });
  }
  if (!Array.isArray(json)) {
    const result = normalise(json, topicLineId, options);
    return result.ok ? { readings: [result.envelope], rejections: [] } : { readings: [], rejections: [{ errors: result.errors, deviceId: result.deviceId }] };
  }
  if (json.length === 0 || json.length > MAX_READINGS_PER_MESSAGE) {
    return wholeRejection({ field: '(payload)', message: `an array must hold 1 to ${MAX_READINGS_PER_MESSAGE} readings, got ${json.length}` });
  }
  const parsed: ParsedMessage = { readings: [], rejections: [] };
  json.forEach((element, index) => {
    const result = normalise(element, topicLineId, options);
    if (result.ok) parsed.readings.push(result.envelope);
    else parsed.rejections.push({ errors: result.errors.map((e) => ({ field: `[${index}].${e.field}`, message: e.message })), deviceId: result.deviceId, batch: { index, element } });
  });
  return parsed;
}

/** Validates and normalises a message that must hold exactly one reading (a JSON object). Never throws. */
export function parseReading(topic: string, payload: Buffer, options: ParseOptions): ParseResult {
  const parsed = parseMessage(topic, payload, options);
  const single = parsed.readings.length + parsed.rejections.length === 1 && parsed.rejections.every((r) => r.batch === undefined);
  if (single && parsed.readings.length === 1 && !isArrayPayload(payload)) return { ok: true, envelope: parsed.readings[0] };
  if (single && parsed.rejections.length === 1) {
    return { ok: false, errors: parsed.rejections[0].errors, lineId: lineIdFromTopic(topic), deviceId: parsed.rejections[0].deviceId };
  }
  return { ok: false, errors: [{ field: '(payload)', message: 'expected one reading (a JSON object), got an array' }], lineId: lineIdFromTopic(topic), deviceId: null };
}

function isArrayPayload(payload: Buffer): boolean {
  return payload.toString('utf8').trimStart().startsWith('[');
}

/**
 * The deepest nesting of objects and arrays in JSON text, from a scan of its bytes that skips the
 * contents of strings (brackets in a string do not nest). Every byte of a multi-byte UTF-8
 * character is >= 0x80, so none is mistaken for a quote, a backslash or a bracket.
 */
export function nestingDepth(payload: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < payload.length; i++) {
    const byte = payload[i];
    if (inString) {
      if (byte === 0x5c) i++; // a backslash escapes the next byte (\" does not end the string)
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x7b || byte === 0x5b) deepest = Math.max(deepest, ++depth);
    else if ((byte === 0x7d || byte === 0x5d) && depth > 0) depth--;
  }
  return deepest;
}

/** Where a replacement character first appears when the bytes are decoded: the first invalid sequence or the byte after it. */
function firstBadUtf8Offset(payload: Buffer): number {
  const reencoded = Buffer.from(payload.toString('utf8'), 'utf8');
  let i = 0;
  while (i < payload.length && payload[i] === reencoded[i]) i++;
  return i;
}

function describeError(err: unknown): string {
  return showMessage(err instanceof Error ? err.message : showValue(err));
}

type Normalised = { ok: true; envelope: ReadingEnvelope } | { ok: false; errors: FieldError[]; deviceId: string | null };

function normalise(json: unknown, topicLineId: string, options: ParseOptions): Normalised {
  const fail = (errors: FieldError[], deviceId: string | null = null): Normalised => ({ ok: false, errors: errors.slice(0, MAX_ERRORS), deviceId });
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail([{ field: '(payload)', message: `must be a JSON object, got ${Array.isArray(json) ? 'an array' : json === null ? 'null' : typeof json}` }]);
  }
  const input = json as Record<string, unknown>;
  const deviceId = typeof input.deviceId === 'string' ? input.deviceId : null;

  const errors: FieldError[] = validate(input) ? [] : describeSchemaErrors(validate.errors ?? [], input);
  if (typeof input.lineId === 'string' && input.lineId !== topicLineId && !errors.some((e) => e.field === 'lineId')) {
    errors.push({ field: 'lineId', message: `"${input.lineId}" disagrees with the topic's line "${topicLineId}"; publish on line/${input.lineId}/SmartMeterData or fix lineId` });
  }
  if (errors.length > 0) return fail(errors, deviceId);

  // The schema has checked the time's type and form; what is left are the bounds that depend on
  // the configuration and on the time of arrival.
  const timeField = input.ts !== undefined ? 'ts' : 'timeStampEpoch';
  const rawTime = input[timeField] as string | number;
  const eventTime = typeof rawTime === 'number' ? rawTime : parseDateTime(rawTime);
  if (!Number.isFinite(eventTime)) {
    return fail([{ field: timeField, message: `${showValue(rawTime)} is not a date-time this service can read; send ${TIME_HELP}` }], deviceId);
  }
  const earliest = options.earliestEventTime ?? DEFAULT_EARLIEST_EVENT_TIME;
  if (eventTime < earliest) {
    return fail([{ field: timeField, message: `${isoOrValue(eventTime)} is before the earliest accepted event time ${isoOrValue(earliest)}; check the meter's clock (it may have reset)` }], deviceId);
  }
  const skew = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  if (eventTime > options.ingestTime + skew) {
    return fail([{ field: timeField, message: `${isoOrValue(eventTime)} is ${Math.round((eventTime - options.ingestTime) / 1000)} s in the future (limit ${skew / 1000} s); check the meter's clock` }], deviceId);
  }

  const reading: Reading = {
    deviceId: input.deviceId as string,
    lineId: topicLineId,
    ts: new Date(eventTime).toISOString(),
    voltage: input.voltage as number,
  };
  if (input.current !== undefined) reading.current = input.current as number;
  if (input.powerFactor !== undefined) reading.powerFactor = input.powerFactor as number;
  if (input.kw !== undefined) reading.kw = input.kw as number;
  if (input.kwh !== undefined) reading.kwh = input.kwh as number;
  if (input.status !== undefined) reading.status = input.status as string;

  return {
    ok: true,
    envelope: {
      v: ENVELOPE_VERSION,
      type: 'reading',
      id: readingId(reading.deviceId, eventTime),
      lineId: topicLineId,
      deviceId: reading.deviceId,
      eventTime,
      ingestTime: options.ingestTime,
      body: reading,
    },
  };
}

/**
 * Epoch ms of an RFC 3339 date-time the schema accepted. The schema allows a leap second
 * (23:59:60), which Date.parse cannot read; like POSIX time, it counts as the first second of the
 * next minute. NaN for anything else Date.parse cannot read.
 */
function parseDateTime(text: string): number {
  const direct = Date.parse(text);
  if (!Number.isNaN(direct)) return direct;
  const leap = /^(.+\d\d:\d\d:)60(\.\d+)?([Zz]|[+-]\d\d:?\d\d)$/.exec(text);
  return leap ? Date.parse(`${leap[1]}59${leap[2] ?? ''}${leap[3]}`) + 1000 : NaN;
}

/** ISO-8601 for any representable instant; the number itself otherwise (toISOString would throw). */
function isoOrValue(epochMs: number): string {
  return Number.isFinite(epochMs) && Math.abs(epochMs) <= 8.64e15 ? new Date(epochMs).toISOString() : showValue(epochMs);
}

/**
 * The dead-letter record for a message that failed the contract, whole or in part: the reason,
 * the topic and the bytes exactly as they arrived. For a concentrator batch whose good readings
 * were ingested, `rejectedIndexes` says which elements were not.
 */
export function deadLetter(
  topic: string,
  payload: Buffer,
  errors: FieldError[],
  ingestTime: number,
  deviceId: string | null = null,
  rejectedIndexes?: number[],
): DeadLetterEnvelope {
  const shown = errors.length > MAX_DEAD_LETTER_ERRORS ? [...errors.slice(0, MAX_DEAD_LETTER_ERRORS), { field: '(more)', message: `and ${errors.length - MAX_DEAD_LETTER_ERRORS} more errors` }] : errors;
  return {
    v: ENVELOPE_VERSION,
    type: 'dead-letter',
    id: deadLetterId(topic, payload),
    lineId: lineIdFromTopic(topic) ?? '(unknown)',
    deviceId,
    eventTime: ingestTime,
    ingestTime,
    body: {
      reason: shown.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors: shown,
      topic,
      payload: payload.toString('base64'),
      ...(rejectedIndexes ? { rejectedIndexes } : {}),
      receivedAt: ingestTime,
    },
  };
}

/** One dead letter for every message with a rejected reading (all its errors, its raw bytes). */
export function deadLetterFor(topic: string, payload: Buffer, parsed: ParsedMessage, ingestTime: number): DeadLetterEnvelope | undefined {
  const { rejections } = parsed;
  if (rejections.length === 0) return undefined;
  const batchIndexes = rejections.flatMap((r) => (r.batch ? [r.batch.index] : []));
  return deadLetter(
    topic,
    payload,
    rejections.flatMap((r) => r.errors),
    ingestTime,
    rejections.length === 1 ? rejections[0].deviceId : null,
    batchIndexes.length > 0 ? batchIndexes : undefined,
  );
}

const TIME_HELP = 'ISO-8601 with a time zone (2026-11-29T05:00:00.000Z) or epoch milliseconds';

function describeSchemaErrors(errors: ErrorObject[], input: Record<string, unknown>): FieldError[] {
  const out = new Map<string, string>();
  for (const error of errors) {
    const field = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const key = field || (error.params as { missingProperty?: string }).missingProperty || '(payload)';
    if (out.has(key)) continue; // the first, most specific message per field is enough
    if (error.keyword === 'required') {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      if (missing === 'ts' || missing === 'timeStampEpoch') continue; // reported once below
      out.set(missing, `is required${missing === 'voltage' ? ' (volts, a number)' : ''}`);
    } else if (error.keyword === 'oneOf' && field === '') {
      const hasTs = input.ts !== undefined;
      const hasAlias = input.timeStampEpoch !== undefined;
      if (!hasTs && !hasAlias) out.set('ts', `is required: ${TIME_HELP} (timeStampEpoch is accepted as an alias)`);
      else if (hasTs && hasAlias) out.set('ts', 'send either ts or timeStampEpoch, not both');
    } else if (field === 'ts') {
      out.set('ts', `must be ${TIME_HELP}, got ${showValue(input.ts)}${timeHint(input.ts)}`);
    } else if (field === 'timeStampEpoch') {
      out.set(field, `must be epoch milliseconds (an integer), got ${showValue(input.timeStampEpoch)}${timeHint(input.timeStampEpoch)}`);
    } else {
      const value = input[field.split('.')[0]];
      // JSON has no Infinity, but a number too large for a double (1e999) parses to it.
      const message = typeof value === 'number' && !Number.isFinite(value) ? 'must be a finite number' : (error.message ?? 'is invalid');
      out.set(key, `${message}, got ${showValue(value)}`);
    }
  }
  return [...out.entries()].map(([field, message]) => ({ field, message }));
}

/** Why a numeric time is wrong, when it is a number that is wrong in a recognisable way. */
function timeHint(value: unknown): string {
  if (typeof value !== 'number') return '';
  if (!Number.isFinite(value)) return ' (not a finite number)';
  if (looksLikeSeconds(value)) return ' (that looks like epoch seconds)';
  if (!Number.isInteger(value)) return ' (not a whole number of milliseconds)';
  if (value > MAX_EPOCH_MS) return ' (that is after the year 9999)';
  if (value < MIN_EPOCH_MS) return ' (epoch milliseconds before 1973 are not accepted)';
  return '';
}

function looksLikeSeconds(value: unknown): boolean {
  return typeof value === 'number' && value > 1e9 && value < 1e11;
}
