import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { ENVELOPE_VERSION, type DeadLetterEnvelope, type ReadingEnvelope } from './envelope';
import { deadLetterId, readingId } from './event-id';
import type { FieldError, Reading } from './reading';
import readingSchema from './reading.v1.schema.json';
import { lineIdFromTopic } from './topics';

export interface ParseOptions {
  /** Wall-clock time the message arrived (epoch ms). */
  ingestTime: number;
  /** Readings stamped further than this ahead of ingestTime are rejected (a meter with a bad clock). */
  maxFutureSkewMs?: number;
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

const DEFAULT_MAX_FUTURE_SKEW_MS = 60 * 60 * 1000;
const MAX_ERRORS = 10;
const MAX_DEAD_LETTER_ERRORS = 50;
/** A data concentrator may send up to this many readings in one message. */
export const MAX_READINGS_PER_MESSAGE = 1000;

/**
 * Validates and normalises one MQTT message: a single reading (a meter) or an array of readings
 * of the topic's line (a data concentrator, which amortises the broker's per-message cost). Each
 * reading stands alone: the valid ones are kept, each invalid one is rejected with its own
 * errors, precise enough for a device maker to fix the payload. Never throws.
 */
export function parseMessage(topic: string, payload: Buffer, options: ParseOptions): ParsedMessage {
  const topicLineId = lineIdFromTopic(topic);
  const whole = (errors: FieldError[]): ParsedMessage => ({ readings: [], rejections: [{ errors, deviceId: null }] });
  if (topicLineId === undefined) {
    return whole([{ field: '(topic)', message: `topic "${topic}" is not line/{lineId}/SmartMeterData` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return whole([{ field: '(payload)', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  if (!Array.isArray(json)) {
    const result = normalise(json, topicLineId, options);
    return result.ok ? { readings: [result.envelope], rejections: [] } : { readings: [], rejections: [{ errors: result.errors, deviceId: result.deviceId }] };
  }
  if (json.length === 0 || json.length > MAX_READINGS_PER_MESSAGE) {
    return whole([{ field: '(payload)', message: `an array must hold 1 to ${MAX_READINGS_PER_MESSAGE} readings, got ${json.length}` }]);
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

  const rawTime = (input.ts ?? input.timeStampEpoch) as string | number;
  const eventTime = typeof rawTime === 'number' ? rawTime : Date.parse(rawTime);
  const skew = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  if (eventTime > options.ingestTime + skew) {
    const field = input.ts !== undefined ? 'ts' : 'timeStampEpoch';
    return fail([{ field, message: `${new Date(eventTime).toISOString()} is ${Math.round((eventTime - options.ingestTime) / 1000)} s in the future (limit ${skew / 1000} s); check the meter's clock` }], deviceId);
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
      out.set('ts', `must be ${TIME_HELP}, got ${JSON.stringify(input.ts)}${looksLikeSeconds(input.ts) ? ' (that looks like epoch seconds)' : ''}`);
    } else if (field === 'timeStampEpoch') {
      out.set(field, `must be epoch milliseconds (an integer), got ${JSON.stringify(input.timeStampEpoch)}${looksLikeSeconds(input.timeStampEpoch) ? ' (that looks like epoch seconds)' : ''}`);
    } else {
      out.set(key, `${error.message ?? 'is invalid'}, got ${JSON.stringify(input[field.split('.')[0]])}`);
    }
  }
  return [...out.entries()].map(([field, message]) => ({ field, message }));
}

function looksLikeSeconds(value: unknown): boolean {
  return typeof value === 'number' && value > 1e9 && value < 1e11;
}
