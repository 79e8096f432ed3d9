import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { deadLetter, deadLetterFor, MAX_READINGS_PER_MESSAGE, nestingDepth, parseMessage, parseReading, type ParseOptions } from './parse-reading';

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

  it('expresses the numeric bounds, so a device maker’s own validation catches them', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(__dirname, 'reading.v1.schema.json'), 'utf8'));
    const validate = new Ajv({ strict: false }).compile(schema);
    for (const bad of [{ kwh: 1e9 + 1 }, { kwh: 1e308 }, { voltage: 1e308 }, { ts: 1e308 }, { ts: 253402300800000 }, { current: -1 }, { kw: 2e4 }, { powerFactor: -1.5 }]) {
      expect([bad, validate({ ...good, ...bad })]).toEqual([bad, false]);
    }
    expect(validate({ ...good, kwh: 1e9, ts: 253402300799999 })).toBe(true);
    expect(schema.definitions.reading.properties.ts.description).toContain('earliest accepted event time (default 2000-01-01T00:00:00Z)');
  });
});

describe('bounds of every number and time', () => {
  const EARLIEST = Date.parse('2000-01-01T00:00:00Z');
  const fieldError = (payload: unknown, options: Partial<ParseOptions> = {}) => {
    const raw = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const parsed = parseMessage(topic, Buffer.from(raw), { ingestTime: INGEST, ...options });
    expect(parsed.readings).toEqual([]);
    return parsed.rejections[0].errors[0];
  };

  it('rejects a time too large to be a date instead of throwing (ts 1e308 halted all ingest)', () => {
    expect(fieldError('{"deviceId":"a","ts":1e308,"voltage":120}')).toEqual({ field: 'ts', message: expect.stringContaining('got 1e+308 (that is after the year 9999)') });
    expect(fieldError({ deviceId: 'a', timeStampEpoch: 8.64e15, voltage: 120 })).toEqual({ field: 'timeStampEpoch', message: expect.stringContaining('after the year 9999') });
    expect(fieldError({ deviceId: 'a', ts: 8.64e15 + 1, voltage: 120 }).field).toBe('ts');
    expect(fieldError('{"deviceId":"a","ts":1e999,"voltage":120}').message).toContain('got Infinity (not a finite number)');
    expect(fieldError('{"deviceId":"a","ts":-0,"voltage":120}').message).toContain('got -0 (epoch milliseconds before 1973 are not accepted)');
  });

  it('rejects readings dated before the earliest accepted instant (a clock reset), configurable', () => {
    expect(fieldError({ deviceId: 'a', ts: '0001-01-01T00:00:00Z', voltage: 120 })).toEqual({
      field: 'ts',
      message: '0001-01-01T00:00:00.000Z is before the earliest accepted event time 2000-01-01T00:00:00.000Z; check the meter\'s clock (it may have reset)',
    });
    expect(fieldError({ deviceId: 'a', timeStampEpoch: EARLIEST - 1, voltage: 120 }).field).toBe('timeStampEpoch');
    const atEarliest = parseMessage(topic, Buffer.from(JSON.stringify({ deviceId: 'a', ts: EARLIEST, voltage: 120 })), { ingestTime: INGEST });
    expect(atEarliest.readings.map((r) => r.eventTime)).toEqual([EARLIEST]);
    const in1990 = { deviceId: 'a', ts: '1990-06-01T00:00:00Z', voltage: 120 };
    expect(fieldError(in1990).message).toContain('before the earliest accepted event time');
    const later = parseMessage(topic, Buffer.from(JSON.stringify(in1990)), { ingestTime: INGEST, earliestEventTime: Date.parse('1980-01-01T00:00:00Z') });
    expect(later.readings).toHaveLength(1);
  });

  it('accepts a time exactly at the future limit and rejects one millisecond past it', () => {
    const skew = 60_000;
    const at = parseMessage(topic, Buffer.from(JSON.stringify({ deviceId: 'a', ts: INGEST + skew, voltage: 120 })), { ingestTime: INGEST, maxFutureSkewMs: skew });
    expect(at.readings).toHaveLength(1);
    expect(fieldError({ deviceId: 'a', ts: INGEST + skew + 1, voltage: 120 }, { maxFutureSkewMs: skew }).message).toContain('in the future (limit 60 s)');
  });

  it('reads a leap second as the first second of the next minute instead of failing on it', () => {
    const parsed = parse({ deviceId: 'a', ts: '2026-11-28T23:59:60.250Z', voltage: 120 });
    expect(parsed.ok && parsed.envelope.body.ts).toBe('2026-11-29T00:00:00.250Z');
    const offset = parse({ deviceId: 'a', ts: '2026-11-29T00:59:60+01:00', voltage: 120 });
    expect(offset.ok && offset.envelope.body.ts).toBe('2026-11-29T00:00:00.000Z');
  });

  it('bounds kwh and shows non-finite values honestly', () => {
    expect(fieldError('{"deviceId":"a","ts":1795928400000,"voltage":120,"kwh":1e308}')).toEqual({ field: 'kwh', message: 'must be <= 1000000000, got 1e+308' });
    expect(parse({ deviceId: 'a', ts: 1795928400000, voltage: 120, kwh: 1e9 }).ok).toBe(true);
    expect(fieldError('{"deviceId":"a","ts":1795928400000,"voltage":1e999}')).toEqual({ field: 'voltage', message: 'must be a finite number, got Infinity' });
    expect(fieldError('{"deviceId":"a","ts":1795928400000,"voltage":120,"kw":-1e999}')).toEqual({ field: 'kw', message: 'must be a finite number, got -Infinity' });
    expect(fieldError({ deviceId: 'a', ts: 1795928400000, voltage: 'NaN' })).toEqual({ field: 'voltage', message: 'must be number, got "NaN"' });
  });

  it('quotes long or hostile values briefly and escaped', () => {
    const error = fieldError({ deviceId: `\u202E${'x'.repeat(5000)}`, ts: 1795928400000, voltage: 120 });
    expect(error.field).toBe('deviceId');
    expect(error.message).toContain('"\\u202exxx');
    expect(error.message).toContain('(5001 characters)');
    expect(error.message.length).toBeLessThan(200);
  });
});

describe('limits checked before parsing', () => {
  const reading = '{"deviceId":"a","ts":1795928400000,"voltage":120}';
  const run = (payload: string | Buffer, options: Partial<ParseOptions> = {}) =>
    parseMessage(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), { ingestTime: INGEST, ...options });

  it('rejects a payload over the size limit with its size and the limit, and accepts one exactly at it', () => {
    const padded = (size: number) => reading.slice(0, -1) + `,"pad":"${'p'.repeat(size - reading.length - 9)}"}`;
    expect(Buffer.byteLength(padded(2048))).toBe(2048);
    expect(run(padded(2048), { maxPayloadBytes: 2048 }).readings).toHaveLength(1);
    expect(run(padded(2049), { maxPayloadBytes: 2048 }).rejections[0].errors).toEqual([
      { field: '(payload)', message: 'is 2049 bytes, over the size limit of 2048 bytes; send fewer readings per message' },
    ]);
    expect(run(Buffer.alloc(256 * 1024 + 1, 0x20)).rejections[0].errors[0].message).toContain('over the size limit of 262144 bytes');
  });

  it('rejects nesting deeper than the limit, thousands of levels included, naming the depth found', () => {
    const deep = `{"deviceId":"a","ts":1795928400000,"voltage":120,"x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    expect(run(deep).rejections[0].errors).toEqual([
      { field: '(payload)', message: 'is nested 5001 levels deep, over the nesting limit of 16 (a reading is 1 level, a concentrator array of readings 2)' },
    ]);
    expect(run('{"a":'.repeat(50_000)).rejections[0].errors[0].message).toContain('nested 50000 levels deep');
    const nested = (levels: number) => `${reading.slice(0, -1)},"x":${'['.repeat(levels - 1)}${']'.repeat(levels - 1)}}`;
    expect(run(nested(16)).readings).toHaveLength(1);
    expect(run(nested(17)).rejections[0].errors[0].message).toContain('nested 17 levels deep');
    // A concentrator batch is depth 2, so a limit of 2 still accepts one.
    expect(run(`[${reading},${reading.replace('"a"', '"b"')}]`, { maxDepth: 2 }).readings).toHaveLength(2);
    expect(run(`[${nested(2)}]`, { maxDepth: 2 }).rejections[0].errors[0].message).toContain('nested 3 levels deep, over the nesting limit of 2');
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const tricky = `${reading.slice(0, -1)},"note":"\\"${'[{'.repeat(500)}\\\\","status":"}}]]"}`;
    expect(JSON.parse(tricky).note).toMatch(/^"\[\{/);
    expect(nestingDepth(Buffer.from(tricky))).toBe(1);
    expect(run(tricky).readings).toHaveLength(1);
  });

  it('rejects bytes that are not UTF-8, saying where', () => {
    const bytes = Buffer.concat([Buffer.from('{"deviceId":"a'), Buffer.from([0xff]), Buffer.from('","ts":1795928400000,"voltage":120}')]);
    expect(run(bytes).rejections[0].errors).toEqual([{ field: '(payload)', message: 'is not valid UTF-8 (first bad byte near offset 14); JSON must be sent as UTF-8' }]);
  });

  it('reports invalid JSON with hidden characters escaped', () => {
    expect(run('\u202E{').rejections[0].errors[0].message).toMatch(/^not valid JSON: .*\\u202e/);
  });
});

describe('parseMessage never throws', () => {
  const hostileTopics = ['line//SmartMeterData', 'line/a/b/SmartMeterData', 'line/a\u0000/SmartMeterData', 'line/%00/SmartMeterData', 'line/../SmartMeterData', `line/${'a'.repeat(5000)}/SmartMeterData`, 'line/\u202Eab/SmartMeterData'];

  it('rejects every hostile topic of the fuzz report as a whole, with a (topic) reason', () => {
    for (const t of hostileTopics) {
      const parsed = parseMessage(t, Buffer.from(JSON.stringify(good)), { ingestTime: INGEST });
      expect(parsed.readings).toEqual([]);
      expect(parsed.rejections).toEqual([{ deviceId: null, errors: [{ field: '(topic)', message: expect.any(String) }] }]);
      expect(deadLetterFor(t, Buffer.from(JSON.stringify(good)), parsed, INGEST)!.lineId).toBe('(unknown)');
    }
  });

  it('for any topic and any bytes: every rejection names a field and says why', () => {
    const payloads = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
      fc.record({ deviceId: fc.string(), ts: fc.oneof(fc.string(), fc.double(), fc.integer()), voltage: fc.double() }).map((v) => Buffer.from(JSON.stringify(v))),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom(topic, ...hostileTopics)), payloads, (t, payload) => {
        const parsed = parseMessage(t, payload, { ingestTime: INGEST });
        expect(parsed.readings.length + parsed.rejections.length).toBeGreaterThan(0);
        for (const rejection of parsed.rejections) {
          expect(rejection.errors.length).toBeGreaterThan(0);
          for (const e of rejection.errors) expect(e.field.length * e.message.length).toBeGreaterThan(0);
          expect(rejection.errors.map((e) => e.message).join(' ')).not.toContain('internal error');
        }
      }),
      { seed: 20261129, numRuns: 2000 },
    );
  });
});

describe('nestingDepth (also what the API checks request bodies with)', () => {
  const deeper = (text: string, max: number) => nestingDepth(Buffer.from(text)) > max;

  it('counts nesting of arrays and objects', () => {
    expect(deeper('{}', 1)).toBe(false);
    expect(deeper('{"a":[1]}', 1)).toBe(true);
    expect(deeper('{"a":[1]}', 2)).toBe(false);
    expect(deeper('[[],[],[[]]]', 2)).toBe(true);
    expect(deeper('[[],[],[]]', 2)).toBe(false);
  });

  it('skips brackets in strings, including after escaped quotes and backslashes', () => {
    expect(deeper('{"a":"[[[[{{{{"}', 1)).toBe(false);
    expect(deeper('{"a":"\\"[[["}', 1)).toBe(false);
    // "\\\\" is one escaped backslash: the string ends right after it, so the bracket counts.
    expect(deeper('{"a":"\\\\",  "b":[1]}', 1)).toBe(true);
    expect(deeper('{"ä[":"€{"}', 1)).toBe(false);
  });
});
