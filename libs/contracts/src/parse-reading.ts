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

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv, ['date-time']);
const validate = ajv.compile(readingSchema);

const DEFAULT_MAX_FUTURE_SKEW_MS = 60 * 60 * 1000;
const MAX_ERRORS = 10;

/**
 * Validates and normalises one MQTT message into a reading envelope. Never throws: every problem
 * comes back as field errors precise enough for a device maker to fix the payload.
 */
export function parseReading(topic: string, payload: Buffer, options: ParseOptions): ParseResult {
  const topicLineId = lineIdFromTopic(topic);
  const fail = (errors: FieldError[], deviceId: string | null = null): ParseResult => ({
    ok: false,
    errors: errors.slice(0, MAX_ERRORS),
    lineId: topicLineId,
    deviceId,
  });

  if (topicLineId === undefined) {
    return fail([{ field: '(topic)', message: `topic "${topic}" is not line/{lineId}/SmartMeterData` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return fail([{ field: '(payload)', message: `not valid JSON: ${(err as Error).message}` }]);
  }
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

/** The dead-letter record for a message that failed parsing: reason, topic and the raw bytes. */
export function deadLetter(topic: string, payload: Buffer, errors: FieldError[], ingestTime: number, deviceId: string | null = null): DeadLetterEnvelope {
  return {
    v: ENVELOPE_VERSION,
    type: 'dead-letter',
    id: deadLetterId(topic, payload),
    lineId: lineIdFromTopic(topic) ?? '(unknown)',
    deviceId,
    eventTime: ingestTime,
    ingestTime,
    body: {
      reason: errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      errors,
      topic,
      payload: payload.toString('base64'),
      receivedAt: ingestTime,
    },
  };
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
