import { deadLetterId, readingId, type DeadLetterEnvelope, type Reading, type ReadingEnvelope } from '@meterstream/contracts';
import fc from 'fast-check';

/**
 * Fuzz inputs for ingest, each with what must come out of it, known by construction (a valid
 * reading is built valid; a mutation is chosen to break the contract) or, for the topic, from an
 * independent statement of the rule. Shared by the in-process fuzz suite and transport suites.
 */

export const FUZZ_NOW = Date.parse('2026-11-29T06:00:00Z');
export const FUZZ_SKEW_MS = 60 * 60 * 1000;
export const FUZZ_EARLIEST = Date.parse('2000-01-01T00:00:00Z');
/** Smaller than the default so oversize payloads stay cheap to generate and store. */
export const FUZZ_MAX_BYTES = 16 * 1024;
export const FUZZ_MAX_DEPTH = 16;
/** The options an Ingest under fuzz gets (the contract's bounds above). */
export const FUZZ_INGEST_OPTIONS = {
  maxFutureSkewMs: FUZZ_SKEW_MS,
  earliestEventTime: FUZZ_EARLIEST,
  maxPayloadBytes: FUZZ_MAX_BYTES,
  maxDepth: FUZZ_MAX_DEPTH,
  now: () => FUZZ_NOW,
};
const MAX_EPOCH_MS = 253402300799999;

/** The topic rule, written out independently of the contract's code. */
const VALID_TOPIC = /^line\/([A-Za-z0-9_-]{1,64})\/SmartMeterData$/;

/** The hostile topics and line ids of the fuzz report of issue 9. */
export const HOSTILE_TOPICS = [
  'line//SmartMeterData',
  'line/a/b/SmartMeterData',
  'line/L\u000007/SmartMeterData',
  'line/%00/SmartMeterData',
  'line/../SmartMeterData',
  `line/${'L'.repeat(5000)}/SmartMeterData`,
  'line/\u202E70L/SmartMeterData',
  'line/L07/SmartMeterData/',
  'line/+/SmartMeterData',
  'line/#',
  'line/L07/smartmeterdata',
  '/line/L07/SmartMeterData',
  '',
];

/** What must come out of one message. */
export interface FuzzMessage {
  kind: string;
  topic: string;
  payload: Buffer;
  /** Every reading the message holds that satisfies the contract, as it must be stored. */
  readings: { id: string; lineId: string; eventTime: number; body: Reading }[];
  /** Present when some part of the message must be rejected: the one dead letter it gets. */
  letter?: {
    lineId: string;
    /** Text the reason must contain (the field and what is wrong), when known by construction. */
    reasonIncludes: string[];
    /** Which elements of a concentrator array were rejected; 'any' where that is not known by construction. */
    rejectedIndexes?: number[] | 'any';
  };
}

interface ReadingSpec {
  idSuffix: string;
  time: number;
  timeForm: 'iso' | 'offset' | 'epoch' | 'alias';
  offsetMinutes: number;
  voltage: number;
  current?: number;
  powerFactor?: number;
  kw?: number;
  kwh?: number;
  status?: string;
  withLineId: boolean;
  extra?: unknown;
}

type Mutation =
  | { kind: 'set'; field: string; value: unknown }
  /** Raw JSON text for a field, for what JSON.stringify cannot write (1e999, -0). */
  | { kind: 'raw'; field: string; text: string }
  | { kind: 'delete'; field: 'deviceId' | 'voltage' | 'time' }
  | { kind: 'bothTimes' }
  | { kind: 'lineId'; value: string };

export type FuzzCase =
  | { kind: 'valid'; lineId: string; reading: ReadingSpec }
  | { kind: 'valid-batch'; lineId: string; readings: ReadingSpec[] }
  | { kind: 'invalid'; lineId: string; reading: ReadingSpec; mutation: Mutation }
  | { kind: 'mixed-batch'; lineId: string; elements: ({ reading: ReadingSpec; mutation?: Mutation } | { junk: unknown })[] }
  | { kind: 'json'; lineId: string; value: unknown }
  | { kind: 'bytes'; lineId: string; bytes: Uint8Array }
  | { kind: 'bad-utf8'; lineId: string; reading: ReadingSpec; at: number; sequence: number[] }
  | { kind: 'deep'; lineId: string; reading: ReadingSpec; shape: 'array' | 'object' | 'unclosed' | 'field' | 'batch-field'; depth: number }
  | { kind: 'at-depth-limit'; lineId: string; reading: ReadingSpec; batch: boolean }
  | { kind: 'sized'; lineId: string; reading: ReadingSpec; size: number }
  | { kind: 'topic'; topic: string; reading: ReadingSpec };

const lineIdArb = fc.oneof(fc.constantFrom('L01', 'L07', 'feeder_12-b'), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/));
const timeArb = fc.oneof(fc.constant(FUZZ_EARLIEST), fc.constant(FUZZ_NOW + FUZZ_SKEW_MS), fc.integer({ min: FUZZ_NOW - 86_400_000, max: FUZZ_NOW + FUZZ_SKEW_MS }), fc.integer({ min: FUZZ_EARLIEST, max: FUZZ_NOW + FUZZ_SKEW_MS }));
const finite = (min: number, max: number) => fc.oneof(fc.constantFrom(min, max), fc.double({ min, max, noNaN: true }));
const optional = <T,>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
/** Text full of brackets, quotes and backslashes: nesting inside a string must not count. */
const bracketText = fc.array(fc.constantFrom('[', '{', ']', '}', '"', '\\', 'a', '\\"'), { maxLength: 80 }).map((parts) => parts.join(''));

const readingSpecArb: fc.Arbitrary<ReadingSpec> = fc.record({
  idSuffix: fc.stringMatching(/^[A-Za-z0-9.:-]{1,40}$/),
  time: timeArb,
  timeForm: fc.constantFrom('iso', 'offset', 'epoch', 'alias'),
  offsetMinutes: fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
  voltage: finite(0, 1000),
  current: optional(finite(0, 10_000)),
  powerFactor: optional(finite(-1, 1)),
  kw: optional(finite(-10_000, 10_000)),
  kwh: optional(finite(0, 1e9)),
  status: optional(fc.string({ unit: 'binary', maxLength: 64 })),
  withLineId: fc.boolean(),
  extra: optional(fc.oneof(fc.jsonValue({ maxDepth: 3 }), bracketText)),
});

const timeFields = ['ts', 'timeStampEpoch'] as const;
const badTimes: unknown[] = [
  'yesterday',
  '',
  'NaN',
  '2026-11-29T05:00:00', // no time zone
  '2026-02-30T00:00:00Z',
  '0001-01-01T00:00:00Z',
  new Date(FUZZ_EARLIEST - 1).toISOString(),
  new Date(FUZZ_NOW + FUZZ_SKEW_MS + 1).toISOString(),
  1795928400, // epoch seconds
  1795928400000.5,
  FUZZ_EARLIEST - 1,
  FUZZ_NOW + FUZZ_SKEW_MS + 1,
  MAX_EPOCH_MS,
  8.64e15,
  8.64e15 + 1,
  1e308,
  -1,
  0,
  true,
  null,
  [],
  {},
];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), field: fc.constant('voltage'), value: fc.constantFrom<unknown>('119.6', 'NaN', 'Infinity', '-Infinity', null, true, [], {}, -0.001, 1000.5, 1e308, -1e308) }),
  fc.record({ kind: fc.constant('set' as const), field: fc.constant('current'), value: fc.constantFrom<unknown>(-0.001, 10_000.5, 1e308, '8') }),
  fc.record({ kind: fc.constant('set' as const), field: fc.constant('powerFactor'), value: fc.constantFrom<unknown>(1.0001, -1.5, 1e308, 'one') }),
  fc.record({ kind: fc.constant('set' as const), field: fc.constant('kw'), value: fc.constantFrom<unknown>(10_000.5, -10_000.5, 1e308, -1e308) }),
  fc.record({ kind: fc.constant('set' as const), field: fc.constant('kwh'), value: fc.constantFrom<unknown>(-1, 1e9 + 1, 1e308, '10', false) }),
  fc.record({ kind: fc.constant('set' as const), field: fc.constant('deviceId'), value: fc.constantFrom<unknown>('', 'a b', 'x'.repeat(129), 42, null, '\u202Eabc', 'm\u0000', 'm/1') }),
  fc.record({ kind: fc.constant('set' as const), field: fc.constant('status'), value: fc.constantFrom<unknown>('s'.repeat(65), 12, null, ['ok']) }),
  fc.record({ kind: fc.constant('set' as const), field: fc.constantFrom(...timeFields), value: fc.oneof(fc.constantFrom(...badTimes), fc.integer({ min: FUZZ_NOW + FUZZ_SKEW_MS + 1, max: MAX_EPOCH_MS }), fc.integer({ min: 1e11, max: FUZZ_EARLIEST - 1 })) }),
  fc.record({ kind: fc.constant('raw' as const), field: fc.constantFrom('voltage', 'kwh', 'current', 'kw', 'powerFactor'), text: fc.constantFrom('1e999', '-1e999') }),
  fc.record({ kind: fc.constant('raw' as const), field: fc.constantFrom(...timeFields), text: fc.constantFrom('1e999', '-1e999', '-0', '1e308', '8.64e15', '-8.64e15') }),
  fc.record({ kind: fc.constant('delete' as const), field: fc.constantFrom('deviceId' as const, 'voltage' as const, 'time' as const) }),
  fc.constant({ kind: 'bothTimes' as const }),
  fc.record({ kind: fc.constant('lineId' as const), value: fc.oneof(fc.constantFrom('a/b', '', 'x'.repeat(65), '..'), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/)) }),
);

const junkArb = fc.constantFrom<unknown>(42, null, 'reading', [], [{}], true, Infinity); // Infinity is written as 1e999

const bytesArb = fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 1, maxLength: 40, min: 0x80, max: 0xff }));
const badUtf8Sequences = [[0xff], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]];

const hostileTopicArb = fc.oneof(
  fc.constantFrom(...HOSTILE_TOPICS),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `line/${s}/SmartMeterData`),
  fc.tuple(lineIdArb, fc.string({ maxLength: 10 })).map(([a, b]) => `line/${a}/${b}/SmartMeterData`),
  fc.stringMatching(/^[A-Za-z0-9_-]{65,100}$/).map((id) => `line/${id}/SmartMeterData`),
  lineIdArb.map((id) => `line/${id}/SmartMeterData`),
);

export const fuzzCaseArb: fc.Arbitrary<FuzzCase> = fc.oneof(
  { weight: 25, arbitrary: fc.record({ kind: fc.constant('valid' as const), lineId: lineIdArb, reading: readingSpecArb }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('valid-batch' as const), lineId: lineIdArb, readings: fc.array(readingSpecArb, { minLength: 1, maxLength: 12 }) }) },
  { weight: 25, arbitrary: fc.record({ kind: fc.constant('invalid' as const), lineId: lineIdArb, reading: readingSpecArb, mutation: mutationArb }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('mixed-batch' as const),
      lineId: lineIdArb,
      elements: fc.array(fc.oneof(fc.record({ reading: readingSpecArb }), fc.record({ reading: readingSpecArb, mutation: mutationArb }), fc.record({ junk: junkArb })), { minLength: 1, maxLength: 12 }),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('json' as const), lineId: lineIdArb, value: fc.jsonValue() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('bytes' as const), lineId: lineIdArb, bytes: bytesArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('bad-utf8' as const), lineId: lineIdArb, reading: readingSpecArb, at: fc.nat(), sequence: fc.constantFrom(...badUtf8Sequences) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('deep' as const),
      lineId: lineIdArb,
      reading: readingSpecArb,
      shape: fc.constantFrom('array' as const, 'object' as const, 'unclosed' as const, 'field' as const, 'batch-field' as const),
      // Thousands of levels, within the size limit (which is checked first).
      depth: fc.oneof(fc.constant(FUZZ_MAX_DEPTH + 1), fc.integer({ min: FUZZ_MAX_DEPTH + 1, max: 100 }), fc.integer({ min: 1000, max: 2500 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('at-depth-limit' as const), lineId: lineIdArb, reading: readingSpecArb, batch: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('sized' as const),
      lineId: lineIdArb,
      reading: readingSpecArb,
      size: fc.oneof(fc.constant(FUZZ_MAX_BYTES), fc.constant(FUZZ_MAX_BYTES + 1), fc.integer({ min: FUZZ_MAX_BYTES + 1, max: 3 * FUZZ_MAX_BYTES })),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('topic' as const), topic: hostileTopicArb, reading: readingSpecArb }) },
);

// ---- rendering: a case and a unique device id prefix become a message and its expected outcome ----

const PLACEHOLDER = '@@raw-value-7f3a@@';

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function timeText(spec: ReadingSpec): string | number {
  if (spec.timeForm === 'epoch' || spec.timeForm === 'alias') return spec.time;
  if (spec.timeForm === 'iso') return new Date(spec.time).toISOString();
  const local = new Date(spec.time + spec.offsetMinutes * 60_000).toISOString().slice(0, 23);
  const abs = Math.abs(spec.offsetMinutes);
  return `${local}${spec.offsetMinutes < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
}

/** The reading as a device sends it (an object, key order as a device would write it). */
function readingObject(spec: ReadingSpec, deviceId: string, lineId: string): Record<string, unknown> {
  const obj: Record<string, unknown> = { deviceId };
  if (spec.withLineId) obj.lineId = lineId;
  obj[spec.timeForm === 'alias' ? 'timeStampEpoch' : 'ts'] = timeText(spec);
  obj.voltage = spec.voltage;
  for (const key of ['current', 'powerFactor', 'kw', 'kwh', 'status'] as const) if (spec[key] !== undefined) obj[key] = spec[key];
  if (spec.extra !== undefined) obj.vendorData = spec.extra;
  return obj;
}

const roundTrip = <T,>(value: T): T => JSON.parse(JSON.stringify(value));

function expectedReading(spec: ReadingSpec, deviceId: string, lineId: string): FuzzMessage['readings'][number] {
  const body: Reading = { deviceId, lineId, ts: new Date(spec.time).toISOString(), voltage: roundTrip(spec.voltage) };
  for (const key of ['current', 'powerFactor', 'kw', 'kwh', 'status'] as const) if (spec[key] !== undefined) (body as unknown as Record<string, unknown>)[key] = roundTrip(spec[key]);
  return { id: readingId(deviceId, spec.time), lineId, eventTime: spec.time, body };
}

/** Applies a mutation; returns the JSON text and the field the reason must name. */
function mutated(spec: ReadingSpec, mutation: Mutation, deviceId: string, lineId: string): { text: string; field: string } {
  const obj = readingObject(spec, deviceId, lineId);
  const timeField = spec.timeForm === 'alias' ? 'timeStampEpoch' : 'ts';
  switch (mutation.kind) {
    case 'set':
    case 'raw': {
      if (timeFields.includes(mutation.field as (typeof timeFields)[number])) {
        delete obj.ts;
        delete obj.timeStampEpoch;
      }
      obj[mutation.field] = mutation.kind === 'set' ? mutation.value : PLACEHOLDER;
      const text = JSON.stringify(obj);
      return { text: mutation.kind === 'raw' ? text.replace(`"${PLACEHOLDER}"`, mutation.text) : text, field: mutation.field };
    }
    case 'delete':
      if (mutation.field === 'time') {
        delete obj[timeField];
        return { text: JSON.stringify(obj), field: 'ts' };
      }
      delete obj[mutation.field];
      return { text: JSON.stringify(obj), field: mutation.field };
    case 'bothTimes':
      obj.ts = new Date(spec.time).toISOString();
      obj.timeStampEpoch = spec.time;
      return { text: JSON.stringify(obj), field: 'ts' };
    case 'lineId':
      obj.lineId = mutation.value === lineId ? 'a/b' : mutation.value; // it must disagree with the topic
      return { text: JSON.stringify(obj), field: 'lineId' };
  }
}

/** The message a case stands for, and what must come out of it. `uid` makes its device ids unique. */
export function renderFuzzCase(c: FuzzCase, uid: string): FuzzMessage {
  const deviceId = (spec: ReadingSpec, n = 0) => `${uid}.${n}:${spec.idSuffix}`.slice(0, 128);
  const topic = c.kind === 'topic' ? c.topic : `line/${c.lineId}/SmartMeterData`;
  const out = (payload: string | Buffer | Uint8Array, rest: Omit<FuzzMessage, 'kind' | 'topic' | 'payload'>): FuzzMessage => {
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
    // Whatever a case meant, a payload over the size limit is refused unread.
    if (bytes.length > FUZZ_MAX_BYTES) {
      const lineId = 'lineId' in c ? c.lineId : '(unknown)';
      return { kind: c.kind, topic, payload: bytes, readings: [], letter: { lineId, reasonIncludes: [`(payload): is ${bytes.length} bytes, over the size limit of ${FUZZ_MAX_BYTES} bytes`] } };
    }
    return { kind: c.kind, topic, payload: bytes, ...rest };
  };
  const rejected = (reasonIncludes: string[], rejectedIndexes?: number[] | 'any') => ({ lineId: (c as { lineId: string }).lineId, reasonIncludes, ...(rejectedIndexes ? { rejectedIndexes } : {}) });

  switch (c.kind) {
    case 'valid':
      return out(JSON.stringify(readingObject(c.reading, deviceId(c.reading), c.lineId)), { readings: [expectedReading(c.reading, deviceId(c.reading), c.lineId)] });
    case 'valid-batch':
      return out(JSON.stringify(c.readings.map((r, i) => readingObject(r, deviceId(r, i), c.lineId))), { readings: c.readings.map((r, i) => expectedReading(r, deviceId(r, i), c.lineId)) });
    case 'invalid': {
      const { text, field } = mutated(c.reading, c.mutation, deviceId(c.reading), c.lineId);
      return out(text, { readings: [], letter: rejected([`${field}: `]) });
    }
    case 'mixed-batch': {
      const texts: string[] = [];
      const readings: FuzzMessage['readings'] = [];
      const bad: number[] = [];
      const reasons: string[] = [];
      c.elements.forEach((e, i) => {
        if ('junk' in e) {
          texts.push(e.junk === Infinity ? '1e999' : JSON.stringify(e.junk));
          bad.push(i);
          reasons.push(`[${i}].(payload): must be a JSON object`);
        } else if (e.mutation) {
          const { text, field } = mutated(e.reading, e.mutation, deviceId(e.reading, i), c.lineId);
          texts.push(text);
          bad.push(i);
          reasons.push(`[${i}].${field}: `);
        } else {
          texts.push(JSON.stringify(readingObject(e.reading, deviceId(e.reading, i), c.lineId)));
          readings.push(expectedReading(e.reading, deviceId(e.reading, i), c.lineId));
        }
      });
      return out(`[${texts.join(',')}]`, { readings, ...(bad.length > 0 ? { letter: rejected(reasons, bad) } : {}) });
    }
    // Random JSON and random bytes are not readings (they would need deviceId, voltage and a time);
    // what the reason says depends on what came out, so only that there is one is checked.
    case 'json':
      return out(JSON.stringify(c.value), { readings: [], letter: rejected([], 'any') });
    case 'bytes':
      return out(c.bytes, { readings: [], letter: rejected([], 'any') });
    case 'bad-utf8': {
      const text = Buffer.from(JSON.stringify(readingObject(c.reading, deviceId(c.reading), c.lineId)));
      const at = c.at % (text.length + 1);
      return out(Buffer.concat([text.subarray(0, at), Buffer.from(c.sequence), text.subarray(at)]), { readings: [], letter: rejected(['(payload): is not valid UTF-8']) });
    }
    case 'deep': {
      const d = c.depth;
      const obj = JSON.stringify(readingObject({ ...c.reading, extra: undefined }, deviceId(c.reading), c.lineId));
      const withField = (levels: number) => `${obj.slice(0, -1)},"x":${'['.repeat(levels)}${']'.repeat(levels)}}`;
      const text = {
        array: () => '['.repeat(d) + ']'.repeat(d),
        object: () => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`,
        unclosed: () => '['.repeat(d),
        field: () => withField(d - 1),
        'batch-field': () => `[${obj},${withField(d - 2)}]`,
      }[c.shape]();
      return out(text, { readings: [], letter: rejected([`(payload): is nested ${d} levels deep, over the nesting limit of ${FUZZ_MAX_DEPTH}`]) });
    }
    case 'at-depth-limit': {
      // Exactly at the limit, with brackets in strings that must not count: valid.
      const obj = JSON.stringify({ ...readingObject({ ...c.reading, extra: undefined }, deviceId(c.reading), c.lineId), note: '"[[[{{{\\' });
      const levels = FUZZ_MAX_DEPTH - (c.batch ? 2 : 1);
      const text = `${obj.slice(0, -1)},"x":${'['.repeat(levels)}${']'.repeat(levels)}}`;
      return out(c.batch ? `[${text}]` : text, { readings: [expectedReading(c.reading, deviceId(c.reading), c.lineId)] });
    }
    case 'sized': {
      const base = JSON.stringify({ ...readingObject({ ...c.reading, extra: undefined }, deviceId(c.reading), c.lineId), pad: '' });
      const padding = Math.max(0, c.size - Buffer.byteLength(base));
      return out(base.replace('"pad":""', `"pad":"${'p'.repeat(padding)}"`), { readings: [expectedReading(c.reading, deviceId(c.reading), c.lineId)] });
    }
    case 'topic': {
      const match = VALID_TOPIC.exec(c.topic);
      const spec = { ...c.reading, withLineId: false };
      const text = JSON.stringify(readingObject(spec, deviceId(spec), ''));
      if (match) return out(text, { readings: [expectedReading(spec, deviceId(spec), match[1])] });
      return { kind: c.kind, topic, payload: Buffer.from(text), readings: [], letter: { lineId: '(unknown)', reasonIncludes: ['(topic): '] } };
    }
  }
}

/** Checks a log's contents against the messages ingested into it; returns a description of every mismatch. */
export function checkOutcomes(messages: readonly FuzzMessage[], readings: readonly ReadingEnvelope[], letters: readonly DeadLetterEnvelope[]): string[] {
  const problems: string[] = [];
  const readingsById = group(readings, (r) => r.id);
  const lettersById = group(letters, (l) => l.id);
  const expectedLetters = new Map<string, FuzzMessage[]>();
  let expectedReadings = 0;
  for (const m of messages) {
    const what = () => `${m.kind} message on ${JSON.stringify(m.topic.slice(0, 80))}: ${JSON.stringify(m.payload.toString('utf8').slice(0, 160))}`;
    for (const r of m.readings) {
      expectedReadings++;
      const stored = readingsById.get(r.id) ?? [];
      if (stored.length !== 1) problems.push(`reading ${r.id} stored ${stored.length} times, expected once (${what()})`);
      else if (JSON.stringify(normalised(stored[0])) !== JSON.stringify(normalised(r))) {
        problems.push(`reading ${r.id} stored as ${JSON.stringify(normalised(stored[0]))}, expected ${JSON.stringify(normalised(r))}`);
      }
    }
    if (m.letter) {
      const id = deadLetterId(m.topic, m.payload);
      const list = expectedLetters.get(id);
      if (list) list.push(m);
      else expectedLetters.set(id, [m]);
    }
  }
  for (const [id, expected] of expectedLetters) {
    const stored = lettersById.get(id) ?? [];
    if (stored.length !== expected.length) {
      problems.push(`dead letter ${id} stored ${stored.length} times, expected ${expected.length} (${expected[0].kind}: ${JSON.stringify(expected[0].payload.toString('utf8').slice(0, 160))})`);
      continue;
    }
    stored.forEach((letter, i) => {
      const m = expected[i];
      const want = m.letter!;
      const reason = letter.body.reason;
      const payloadOk = Buffer.from(letter.body.payload, 'base64').equals(m.payload);
      const missing = want.reasonIncludes.filter((part) => !reason.includes(part));
      const unexpected = /internal error/.test(reason) || (/could not be stored/.test(reason) && !want.reasonIncludes.some((part) => part.includes('could not be stored')));
      if (!reason || missing.length > 0 || unexpected || !payloadOk || letter.body.topic !== m.topic || letter.lineId !== want.lineId) {
        problems.push(`dead letter for ${m.kind} ${JSON.stringify(m.payload.toString('utf8').slice(0, 160))}: reason ${JSON.stringify(reason)} lacks ${JSON.stringify(missing)}; bytes kept: ${payloadOk}; lineId ${letter.lineId}, expected ${want.lineId}`);
      }
      if (want.rejectedIndexes !== 'any' && JSON.stringify(letter.body.rejectedIndexes) !== JSON.stringify(want.rejectedIndexes)) {
        problems.push(`dead letter for ${m.kind}: rejectedIndexes ${JSON.stringify(letter.body.rejectedIndexes)}, expected ${JSON.stringify(want.rejectedIndexes)}`);
      }
    });
  }
  if (readings.length !== expectedReadings) problems.push(`${readings.length} readings stored, expected ${expectedReadings}: something invalid was accepted`);
  const lettersExpected = [...expectedLetters.values()].reduce((n, list) => n + list.length, 0);
  if (letters.length !== lettersExpected) problems.push(`${letters.length} dead letters stored, expected ${lettersExpected}: something valid was refused`);
  return problems;
}

function normalised(e: { id: string; lineId: string; eventTime: number; body: Reading }) {
  return { id: e.id, lineId: e.lineId, eventTime: e.eventTime, body: Object.fromEntries(Object.entries(e.body).sort(([a], [b]) => a.localeCompare(b))) };
}

function group<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const list = map.get(key(item));
    if (list) list.push(item);
    else map.set(key(item), [item]);
  }
  return map;
}
