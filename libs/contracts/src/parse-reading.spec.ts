import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deadLetter, deadLetterFor, MAX_READINGS_PER_MESSAGE, parseMessage, parseReading } from './parse-reading';

const INGEST = Date.parse('2026-11-29T06:00:00.000Z');
const topic = 'line/L07/SmartMeterData';
const parse = (payload: unknown, t = topic) =>
  parseReading(t, Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)), { ingestTime: INGEST });
const good = { deviceId: 'm-000123', lineId: 'L07', ts: '2026-11-29T05:00:00.000Z', voltage: 119.6, current: 8.2, powerFactor: 0.97, kw: 0.95, kwh: 10234.5 };

function errorsOf(result: ReturnType<typeof parse>) {
  if (result.ok) throw new Error('expected a rejection');
  return result.errors;
}

describe('parseReading', () => {
  it('normalises a valid reading into an envelope with a deterministic id', () => {
    const result = parse(good);
    expect(result).toEqual({
      ok: true,
      envelope: {
        v: 1,
        type: 'reading',
        id: 'm-000123@1795928400000',
        lineId: 'L07',
        deviceId: 'm-000123',
        eventTime: 1795928400000,
        ingestTime: INGEST,
        body: { deviceId: 'm-000123', lineId: 'L07', ts: '2026-11-29T05:00:00.000Z', voltage: 119.6, current: 8.2, powerFactor: 0.97, kw: 0.95, kwh: 10234.5 },
      },
    });
  });

  it('accepts epoch milliseconds, the timeStampEpoch alias, other time zones, and takes lineId from the topic', () => {
    const a = parse({ deviceId: 'm1', ts: 1795928400000, voltage: 120 });
    const b = parse({ deviceId: 'm1', timeStampEpoch: 1795928400000, voltage: 120 });
    const c = parse({ deviceId: 'm1', ts: '2026-11-29T06:00:00+01:00', voltage: 120 });
    for (const r of [a, b, c]) {
      expect(r.ok && r.envelope.eventTime).toBe(1795928400000);
      expect(r.ok && r.envelope.body.ts).toBe('2026-11-29T05:00:00.000Z');
      expect(r.ok && r.envelope.lineId).toBe('L07');
    }
  });

  it('names each bad field and says what to send', () => {
    const errors = errorsOf(parse({ deviceId: '', ts: 'yesterday', voltage: '119.6', powerFactor: 3 }));
    const byField = Object.fromEntries(errors.map((e) => [e.field, e.message]));
    expect(Object.keys(byField).sort()).toEqual(['deviceId', 'powerFactor', 'ts', 'voltage']);
    expect(byField.ts).toContain('ISO-8601');
    expect(byField.ts).toContain('"yesterday"');
    expect(byField.voltage).toContain('must be number');
    expect(byField.powerFactor).toContain('<= 1');
  });

  it('reports a missing time or voltage plainly', () => {
    const errors = errorsOf(parse({ deviceId: 'm1' }));
    expect(errors).toEqual(
      expect.arrayContaining([
        { field: 'voltage', message: 'is required (volts, a number)' },
        { field: 'ts', message: expect.stringContaining('is required') },
      ]),
    );
  });

  it('recognises epoch seconds and both time fields at once', () => {
    expect(errorsOf(parse({ deviceId: 'm1', ts: 1795928400, voltage: 120 }))[0].message).toContain('looks like epoch seconds');
    expect(errorsOf(parse({ deviceId: 'm1', ts: 1795928400000, timeStampEpoch: 1795928400000, voltage: 120 }))[0].message).toContain('not both');
  });

  it('rejects a lineId that disagrees with the topic, bad JSON, non-objects, foreign topics and future times', () => {
    expect(errorsOf(parse({ ...good, lineId: 'L08' }))[0]).toEqual({ field: 'lineId', message: expect.stringContaining('disagrees with the topic') });
    expect(errorsOf(parse('{"deviceId":')).map((e) => e.field)).toEqual(['(payload)']);
    expect(errorsOf(parse('[1,2]'))[0].message).toContain('an array');
    expect(errorsOf(parse(good, 'line/L07/other'))[0].field).toBe('(topic)');
    expect(errorsOf(parse({ ...good, ts: '2026-11-30T06:00:00Z' }))[0].message).toContain('in the future');
  });
});

describe('parseMessage (a meter or a data concentrator)', () => {
  const message = (payload: unknown) => parseMessage(topic, Buffer.from(JSON.stringify(payload)), { ingestTime: INGEST });

  it('treats a single object exactly like parseReading', () => {
    const parsed = message(good);
    expect(parsed.rejections).toEqual([]);
    expect(parsed.readings).toEqual([(parse(good) as { envelope: unknown }).envelope]);
  });

  it('keeps the valid readings of a batch and rejects each bad one with its index', () => {
    const parsed = message([good, { ...good, deviceId: 'm-2', voltage: 'x' }, { ...good, deviceId: 'm-3' }, 42]);
    expect(parsed.readings.map((r) => r.deviceId)).toEqual(['m-000123', 'm-3']);
    expect(parsed.rejections).toEqual([
      { errors: [{ field: '[1].voltage', message: expect.stringContaining('must be number') }], deviceId: 'm-2', batch: { index: 1, element: { ...good, deviceId: 'm-2', voltage: 'x' } } },
      { errors: [{ field: '[3].(payload)', message: 'must be a JSON object, got number' }], deviceId: null, batch: { index: 3, element: 42 } },
    ]);
  });

  it('rejects an empty or oversized batch as a whole', () => {
    expect(message([]).rejections[0].errors[0].message).toContain('1 to 1000 readings, got 0');
    expect(message(Array.from({ length: MAX_READINGS_PER_MESSAGE + 1 }, () => good)).readings).toEqual([]);
  });

  it('is not a single reading for parseReading', () => {
    expect(errorsOf(parse([good]))[0].message).toContain('got an array');
  });
});

describe('deadLetter', () => {
  it('keeps the topic, the raw bytes and a readable reason, with an id derived from the bytes', () => {
    const raw = Buffer.from([0xff, 0x00, 0x7b]);
    const a = deadLetter(topic, raw, [{ field: '(payload)', message: 'not valid JSON' }], INGEST, null);
    const b = deadLetter(topic, raw, [{ field: '(payload)', message: 'not valid JSON' }], INGEST + 5, null);
    expect(a.id).toBe(b.id);
    expect(a.lineId).toBe('L07');
    expect(Buffer.from(a.body.payload, 'base64')).toEqual(raw);
    expect(a.body.reason).toBe('(payload): not valid JSON');
  });

  it('holds a whole concentrator batch once, with every rejected element named', () => {
    const raw = Buffer.from(JSON.stringify([{ deviceId: 'm1', ts: good.ts, voltage: 120 }, { deviceId: 'm2' }, 7]));
    const letter = deadLetterFor(topic, raw, parseMessage(topic, raw, { ingestTime: INGEST }), INGEST)!;
    expect(Buffer.from(letter.body.payload, 'base64')).toEqual(raw);
    expect(letter.body.rejectedIndexes).toEqual([1, 2]);
    expect(letter.body.errors.map((e) => e.field)).toEqual(['[1].ts', '[1].voltage', '[2].(payload)']);
    expect(letter.deviceId).toBeNull();
    expect(deadLetterFor(topic, Buffer.from(JSON.stringify(good)), parseMessage(topic, Buffer.from(JSON.stringify(good)), { ingestTime: INGEST }), INGEST)).toBeUndefined();
  });
});

describe('the published JSON Schema', () => {
  it('is valid draft-07 that accepts the documented example and rejects a reading without voltage', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, 'reading.v1.schema.json'), 'utf8'));
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schema);
    expect(validate(good)).toBe(true);
    expect(validate({ deviceId: 'm1', ts: good.ts })).toBe(false);
    expect(validate([good, { ...good, deviceId: 'm-2' }])).toBe(true);
    expect(validate([])).toBe(false);
  });
});
