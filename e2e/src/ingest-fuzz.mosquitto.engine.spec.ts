import fc from 'fast-check';
import mqtt from 'mqtt';
import { parseMessage, readingId, STREAMS, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { envelopesInLog, makeTempDir, PipelineProcesses, processesWithEnv, waitFor } from '@meterstream/test-harness';
import { mosquitto, MOSQUITTO_URL } from './mosquitto';

/**
 * Issue 9, "nothing acknowledged is lost, no input stops the flow", through the real transport:
 * thousands of generated messages, valid and hostile, published with QoS 1 to the shared test
 * Mosquitto (scripts/engines/mosquitto.sh: no message_size_limit or max_packet_size, so every
 * payload here, up to ~300 KB, reaches the bridge) and taken by the real ingest-bridge process.
 * Every valid reading must be in `readings`, every malformed message must be exactly one dead
 * letter with its bytes and a reason, and the bridge must neither exit nor reconnect.
 */

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2_147_483_647);
// The contract's defaults, which the bridge runs with here (no MAX_PAYLOAD_BYTES in its environment).
const MAX_PAYLOAD_BYTES = 256 * 1024;
const EARLIEST = Date.parse('2000-01-01T00:00:00Z');
const NOW = Date.now();
const HOUR = 3_600_000;

interface Planned {
  kind: string;
  topic: string;
  payload: Buffer;
  /** Ids this message must put in `readings`. */
  readingIds: string[];
  /** Whether it must become exactly one dead letter. */
  deadLetter: boolean;
}

const keyOf = (topic: string, payloadBase64: string) => `${topic}\u0000${payloadBase64}`;
const short = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…(${text.length} chars)` : text);
const describeMessage = (m: Planned) => `${m.kind} on ${JSON.stringify(short(m.topic))}: ${JSON.stringify(short(m.payload.toString('utf8')))}`;

// ---- valid readings, valid by construction -------------------------------------------------

const deviceIdArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/);
// Frequent lines F01-F04, not the L01-L04 of the other suites on the same broker, whose bridges see
// this traffic too while they run.
const lineIdArb = fc.oneof(fc.constantFrom('F01', 'F02', 'F03', 'F04', 'X'), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/));
const eventTimeArb = fc.integer({ min: EARLIEST, max: NOW - 60_000 });
const voltageArb = fc.oneof(fc.double({ min: 0, max: 1000, noNaN: true }), fc.integer({ min: 1000, max: 1300 }).map((v) => v / 10));

/** ISO-8601 of `ms` at a given UTC offset in minutes (same instant). */
function isoWithOffset(ms: number, offsetMinutes: number): string {
  if (offsetMinutes === 0) return new Date(ms).toISOString();
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, -1);
  const sign = offsetMinutes > 0 ? '+' : '-';
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

interface ValidReading {
  object: Record<string, unknown>;
  id: string;
}

// Built once: a chain() that built its arbitraries per value would recompile their patterns each time.
const readingPartsArb = fc.record(
  {
    deviceId: deviceIdArb,
    eventTime: eventTimeArb,
    timeForm: fc.constantFrom('iso', 'offset', 'epoch', 'alias'),
    offset: fc.constantFrom(-600, -330, 60, 345, 840),
    voltage: voltageArb,
    withLineId: fc.boolean(),
    current: fc.option(fc.double({ min: 0, max: 10_000, noNaN: true }), { nil: undefined }),
    powerFactor: fc.option(fc.double({ min: -1, max: 1, noNaN: true }), { nil: undefined }),
    kw: fc.option(fc.double({ min: -10_000, max: 10_000, noNaN: true }), { nil: undefined }),
    kwh: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: undefined }),
    status: fc.option(fc.string({ maxLength: 64 }), { nil: undefined }),
    // Unknown properties are accepted and ignored (shallow, so the nesting limit is not hit).
    extra: fc.option(fc.dictionary(fc.stringMatching(/^x[a-z]{1,8}$/), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 3 }), { nil: undefined }),
  },
  { requiredKeys: ['deviceId', 'eventTime', 'timeForm', 'offset', 'voltage', 'withLineId'] },
);

function validReadingArb(lineId: string): fc.Arbitrary<ValidReading> {
  return readingPartsArb.map((r) => {
    const object: Record<string, unknown> = { ...(r.extra ?? {}), deviceId: r.deviceId };
    if (r.withLineId) object.lineId = lineId;
    if (r.timeForm === 'iso') object.ts = new Date(r.eventTime).toISOString();
    else if (r.timeForm === 'offset') object.ts = isoWithOffset(r.eventTime, r.offset);
    else if (r.timeForm === 'epoch') object.ts = r.eventTime;
    else object.timeStampEpoch = r.eventTime;
    object.voltage = r.voltage;
    for (const field of ['current', 'powerFactor', 'kw', 'kwh', 'status'] as const) if (r[field] !== undefined) object[field] = r[field];
    return { object, id: readingId(r.deviceId, r.eventTime) };
  });
}

const topicOf = (lineId: string) => `line/${lineId}/SmartMeterData`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

const validSingleArb: fc.Arbitrary<Planned> = lineIdArb.chain((lineId) =>
  fc.tuple(validReadingArb(lineId), fc.boolean()).map(([r, pretty]) => ({
    kind: 'valid reading',
    topic: topicOf(lineId),
    payload: Buffer.from(pretty ? JSON.stringify(r.object, null, 2) : JSON.stringify(r.object)),
    readingIds: [r.id],
    deadLetter: false,
  })),
);

const validBatchArb: fc.Arbitrary<Planned> = lineIdArb.chain((lineId) =>
  fc.array(validReadingArb(lineId), { minLength: 1, maxLength: 6 }).map((rs) => ({
    kind: 'valid concentrator batch',
    topic: topicOf(lineId),
    payload: json(rs.map((r) => r.object)),
    readingIds: rs.map((r) => r.id),
    deadLetter: false,
  })),
);

// ---- invalid mutations of valid readings, invalid by construction ---------------------------

type Mutation = (o: Record<string, unknown>, lineId: string) => Buffer;
const set =
  (field: string, value: unknown): Mutation =>
  (o) =>
    json({ ...o, [field]: value });
const without =
  (...fields: string[]): Mutation =>
  (o) => {
    const copy = { ...o };
    for (const f of fields) delete copy[f];
    return json(copy);
  };
const eventTimeOf = (o: Record<string, unknown>) => (typeof o.ts === 'string' ? Date.parse(o.ts) : Number(o.ts ?? o.timeStampEpoch));
/** The reading with its time replaced (JSON.stringify leaves out the undefined alias). */
const withTs = (o: Record<string, unknown>, ts: unknown) => json({ ...o, timeStampEpoch: undefined, ts });
const mutations: Record<string, Mutation> = {
  'no voltage': without('voltage'),
  'no deviceId': without('deviceId'),
  'no time': without('ts', 'timeStampEpoch'),
  'voltage as text': (o) => json({ ...o, voltage: String(o.voltage) }),
  'voltage negative': set('voltage', -0.5),
  'voltage over 1000': set('voltage', 1000.5),
  'voltage null': set('voltage', null),
  'voltage true': set('voltage', true),
  // JSON has no Infinity; 1e999 parses to it. Written first, so nothing in an unknown property can shadow it.
  'voltage 1e999': (o) => Buffer.from(`{"voltage":1e999,${JSON.stringify({ ...o, voltage: undefined }).slice(1)}`),
  'ts in epoch seconds': (o) => withTs(o, Math.floor(eventTimeOf(o) / 1000)),
  'ts before 2000': (o) => withTs(o, EARLIEST - 1),
  'ts a day ahead': (o) => withTs(o, new Date(NOW + 24 * HOUR).toISOString()),
  'ts month 13': (o) => withTs(o, '2026-13-01T00:00:00Z'),
  'ts without zone': (o) => withTs(o, '2026-01-01T00:00:00'),
  'ts not an integer': (o) => withTs(o, eventTimeOf(o) + 0.5),
  'ts and timeStampEpoch': (o) => json({ ...o, ts: eventTimeOf(o), timeStampEpoch: eventTimeOf(o) }),
  'deviceId empty': set('deviceId', ''),
  'deviceId with space': set('deviceId', 'm 1'),
  'deviceId too long': set('deviceId', 'm'.repeat(129)),
  'deviceId a number': set('deviceId', 123),
  'lineId disagrees': (o, lineId) => json({ ...o, lineId: `${lineId}x` }),
  'current negative': set('current', -1),
  'powerFactor 2': set('powerFactor', 2),
  'kwh negative': set('kwh', -5),
  'status too long': set('status', 's'.repeat(65)),
  'trailing garbage': (o) => Buffer.from(`${JSON.stringify(o)}garbage`),
  truncated: (o) => {
    const text = JSON.stringify(o);
    return Buffer.from(text.slice(0, text.length - 1 - (text.length % 7)));
  },
  'byte order mark': (o) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json(o)]),
  'invalid UTF-8': (o) => {
    const bytes = json(o);
    return Buffer.concat([bytes.subarray(0, 3), Buffer.from([0xff, 0xfe]), bytes.subarray(3)]);
  },
  'an empty array': () => Buffer.from('[]'),
  'a scalar': (o) => json(o.voltage),
  'a string': (o) => json(JSON.stringify(o)),
};

const mutatedArb: fc.Arbitrary<Planned> = lineIdArb.chain((lineId) =>
  fc.tuple(validReadingArb(lineId), fc.constantFrom(...Object.keys(mutations))).map(([r, name]) => ({
    kind: `mutation: ${name}`,
    topic: topicOf(lineId),
    payload: mutations[name](r.object, lineId),
    readingIds: [],
    deadLetter: true,
  })),
);

const mixedBatchArb: fc.Arbitrary<Planned> = lineIdArb.chain((lineId) =>
  fc.tuple(fc.array(validReadingArb(lineId), { minLength: 1, maxLength: 4 }), fc.constantFrom<unknown>({ deviceId: 'm-bad' }, null, 42, [], { voltage: 'x' })).map(([rs, bad]) => ({
    kind: 'batch with one bad element',
    topic: topicOf(lineId),
    payload: json([...rs.map((r) => r.object), bad]),
    readingIds: rs.map((r) => r.id),
    deadLetter: true,
  })),
);

const tooManyArb: fc.Arbitrary<Planned> = lineIdArb.chain((lineId) =>
  validReadingArb(lineId).map((r) => ({
    kind: 'batch of 1001 readings',
    topic: topicOf(lineId),
    payload: json(Array.from({ length: 1001 }, (_, i) => ({ ...r.object, deviceId: `m-${i}` }))),
    readingIds: [],
    deadLetter: true,
  })),
);

// ---- deep nesting and size limits -----------------------------------------------------------

const deepArb: fc.Arbitrary<Planned> = fc
  .tuple(lineIdArb, fc.constantFrom(17, 100, 5000, 50_000), fc.constantFrom('open brackets', 'balanced arrays', 'nested objects', 'open braces'))
  .map(([lineId, depth, shape]) => {
    const text =
      shape === 'open brackets'
        ? '['.repeat(depth)
        : shape === 'balanced arrays'
          ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
          : shape === 'nested objects'
            ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
            : '{"a":'.repeat(depth);
    return { kind: `nested ${depth} deep (${shape})`, topic: topicOf(lineId), payload: Buffer.from(text), readingIds: [], deadLetter: true };
  });

/** A valid reading padded with an unknown property to exactly `size` bytes. */
function padded(r: ValidReading, size: number): Buffer {
  const base = JSON.stringify({ ...r.object, xpad: '' });
  return Buffer.from(JSON.stringify({ ...r.object, xpad: 'p'.repeat(size - Buffer.byteLength(base)) }));
}

const oversizeArb: fc.Arbitrary<Planned> = lineIdArb.chain((lineId) =>
  fc.tuple(validReadingArb(lineId), fc.integer({ min: MAX_PAYLOAD_BYTES + 1, max: 300_000 }), fc.boolean()).map(([r, size, random]) => ({
    kind: `oversize ${size} bytes (${random ? 'random bytes' : 'padded reading'})`,
    topic: topicOf(lineId),
    payload: random ? Buffer.from(Array.from({ length: size }, (_, i) => (i * 7919 + size) % 256)) : padded(r, size),
    readingIds: [],
    deadLetter: true,
  })),
);

/** Exactly at the size limit: still a reading. */
const atLimitArb: fc.Arbitrary<Planned> = lineIdArb.chain((lineId) =>
  validReadingArb(lineId).map((r) => ({ kind: 'valid reading at the size limit', topic: topicOf(lineId), payload: padded(r, MAX_PAYLOAD_BYTES), readingIds: [r.id], deadLetter: false })),
);

// ---- hostile topics under line/ ---------------------------------------------------------------

const HOSTILE_TOPICS = [
  'line//SmartMeterData',
  'line/a/b/SmartMeterData',
  'line/%00/SmartMeterData',
  'line/..',
  'line/../SmartMeterData',
  `line/${'x'.repeat(5000)}/SmartMeterData`,
  `line/${'a'.repeat(65)}/SmartMeterData`,
  'line/F\u202E10/SmartMeterData',
  'line/\u202E/SmartMeterData',
  'line/F 01/SmartMeterData',
  'line/Ƒ01/SmartMeterData',
  'line/😀/SmartMeterData',
  'line/$SYS/SmartMeterData',
  'line/F01/smartmeterdata',
  'line/F01/SmartMeterData/',
  'line/F01/SmartMeterData/extra',
  'line/F01',
  'line/',
  'line',
];
// Characters a line id must not have. Not '/', '+', '#' or control characters: MQTT forbids those
// in a published topic and the broker would disconnect the publisher, which is not what is tested.
const hostileChars = fc.constantFrom('.', ' ', '%', '$', '\u202E', '\u200B', '\uFEFF', 'é', 'Ł', '😀', '"', '\\', '<', '*', '?', '\'', 'A', '1', '_', '-');
const hostileLineIdArb = fc.string({ unit: hostileChars, maxLength: 80 }).filter((id) => !/^[A-Za-z0-9_-]{1,64}$/.test(id));

const hostileTopicArb: fc.Arbitrary<Planned> = fc
  .tuple(fc.oneof(fc.constantFrom(...HOSTILE_TOPICS), hostileLineIdArb.map(topicOf)), validReadingArb('F01'), fc.nat())
  .map(([topic, r, n]) => ({
    kind: 'hostile topic',
    topic,
    // Distinct payloads, so every (topic, bytes) pair is one message with one dead letter.
    payload: json({ ...r.object, lineId: undefined, xn: n }),
    readingIds: [],
    deadLetter: true,
  }));

// ---- random payloads, classified by the contract itself ---------------------------------------

/**
 * The contract's verdict on a random message. A verdict that changes with the time of arrival
 * (an event time near "now + allowed skew") is discarded: it would depend on when the bridge runs.
 */
function classified(kind: string, topic: string, payload: Buffer): Planned | undefined {
  const early = parseMessage(topic, payload, { ingestTime: Date.now() });
  const late = parseMessage(topic, payload, { ingestTime: Date.now() + 30 * 60_000 });
  const ids = early.readings.map((r) => r.id);
  if (JSON.stringify(ids) !== JSON.stringify(late.readings.map((r) => r.id)) || early.rejections.length !== late.rejections.length) return undefined;
  return { kind, topic, payload, readingIds: ids, deadLetter: early.rejections.length > 0 };
}

const randomTopicArb = fc.oneof({ weight: 4, arbitrary: lineIdArb.map(topicOf) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_TOPICS) });
const randomJsonArb = fc.tuple(randomTopicArb, fc.jsonValue()).map(([topic, v]) => ({ kind: 'random JSON', topic, payload: json(v) }));
const readingShapedArb = fc
  .tuple(
    randomTopicArb,
    fc.record(
      {
        deviceId: fc.oneof(deviceIdArb, fc.string(), fc.integer()),
        ts: fc.oneof(eventTimeArb, eventTimeArb.map((t) => new Date(t).toISOString()), fc.string(), fc.double(), fc.integer()),
        voltage: fc.oneof(voltageArb, fc.double(), fc.string()),
        current: fc.double(),
        lineId: fc.oneof(lineIdArb, fc.string()),
      },
      { requiredKeys: [] },
    ),
  )
  .map(([topic, v]) => ({ kind: 'random reading-shaped JSON', topic, payload: json(v) }));
const randomBytesArb = fc.tuple(randomTopicArb, fc.uint8Array({ maxLength: 2048 })).map(([topic, b]) => ({ kind: 'random bytes', topic, payload: Buffer.from(b) }));

const POISON: Planned = {
  kind: 'the poison message (ts 1e308)',
  topic: 'line/X/SmartMeterData',
  payload: Buffer.from('{"deviceId":"a","ts":1e308,"voltage":120}'),
  readingIds: [],
  deadLetter: true,
};

function plan(seed: number): Planned[] {
  let run = 0;
  const take = <T>(arb: fc.Arbitrary<T>, n: number): T[] => fc.sample(arb, { seed: seed + run++, numRuns: n });
  const random = [...take(randomJsonArb, 300), ...take(readingShapedArb, 400), ...take(randomBytesArb, 300)]
    .map((m) => classified(m.kind, m.topic, m.payload))
    .filter((m): m is Planned => m !== undefined);
  const all: Planned[] = [
    ...take(validSingleArb, 1000),
    ...take(validBatchArb, 60),
    ...take(atLimitArb, 3),
    ...take(mutatedArb, 700),
    ...take(mixedBatchArb, 30),
    ...take(tooManyArb, 2),
    ...take(deepArb, 30),
    ...take(oversizeArb, 30),
    ...take(hostileTopicArb, 200),
    ...random,
  ];
  const shuffled = take(fc.shuffledSubarray(all, { minLength: all.length, maxLength: all.length }), 1)[0];
  // The poison message early on: everything after it must still flow.
  shuffled.splice(3, 0, POISON);
  // One message per (topic, bytes): a repeat would rightly share its dead letter's id.
  const seen = new Set<string>();
  return shuffled.filter((m) => {
    const key = keyOf(m.topic, m.payload.toString('base64'));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

describe('ingest through Mosquitto under a fuzzed stream of valid and hostile messages', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let pipeline: PipelineProcesses | undefined;
  const bridgeClientId = `fuzz-bridge-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    await mosquitto();
    temp = makeTempDir('meterstream-fuzz-');
    pipeline = await PipelineProcesses.start({ mqttUrl: MOSQUITTO_URL, dataDir: temp.dir, env: { MQTT_CLIENT_ID: bridgeClientId } });
  }, 120_000);

  afterAll(async () => {
    await pipeline?.stop();
    // Ends the bridge's persistent session so the shared broker stops queueing line/# for it.
    const cleaner = await mqtt.connectAsync(MOSQUITTO_URL, { clientId: bridgeClientId, clean: true, reconnectPeriod: 0 }).catch(() => undefined);
    await cleaner?.endAsync();
    temp?.cleanup();
  }, 60_000);

  it('stores every valid reading, dead-letters every malformed message exactly once with its bytes, and never stops the bridge', async () => {
    const generating = Date.now();
    const messages = plan(SEED);
    const generatedIn = Date.now() - generating;
    const seedNote = `(FUZZ_SEED=${SEED} reproduces this run)`;
    const valid = messages.filter((m) => m.readingIds.length > 0);
    const malformed = messages.filter((m) => m.deadLetter);
    // The generators must have produced what this test is about.
    expect(messages.length).toBeGreaterThan(2500);
    expect(valid.length).toBeGreaterThan(1000);
    expect(malformed.length).toBeGreaterThan(1000);
    expect(malformed.filter((m) => m.payload.length > MAX_PAYLOAD_BYTES).length).toBeGreaterThan(10);

    const meter = await mqtt.connectAsync(MOSQUITTO_URL, { clientId: `fuzz-meter-${process.pid}-${Date.now()}`, protocolVersion: 4, reconnectPeriod: 0 });
    // A publisher reconnection would resend unacknowledged messages (a duplicate is not this test's subject).
    let publisherDrops = 0;
    meter.on('close', () => publisherDrops++);
    try {
      const started = Date.now();
      for (let i = 0; i < messages.length; i += 250) {
        await Promise.all(messages.slice(i, i + 250).map((m) => meter.publishAsync(m.topic, m.payload, { qos: 1 })));
      }
      expect(publisherDrops).toBe(0);
      // Published last, after every PUBACK: once it is stored, everything before it was delivered.
      const sentinel = { deviceId: `fuzz-sentinel-${SEED}`, ts: NOW - 30_000, voltage: 120 };
      await meter.publishAsync('line/F01/SmartMeterData', JSON.stringify(sentinel), { qos: 1 });
      const sentinelId = readingId(sentinel.deviceId, sentinel.ts);
      const readingIds = () => new Set(envelopesInLog<ReadingEnvelope>(temp.dir, STREAMS.readings).map((r) => r.id));
      await waitFor(() => readingIds().has(sentinelId), {
        what: `the sentinel reading, published after everything else, in the readings stream ${seedNote}`,
        timeoutMs: 300_000,
        intervalMs: 1_000,
      }).catch((err: Error) => {
        throw new Error(`${err.message}\nbridge output:\n${pipeline!.output('bridge')}`);
      });
      // Mosquitto delivers one publisher's messages to the bridge in order, so the rest is in by
      // now; the wait only covers a reordering this test does not assume.
      const wanted = new Set(valid.flatMap((m) => m.readingIds));
      const inLog = await waitFor(
        () => {
          const ids = readingIds();
          return [...wanted].every((id) => ids.has(id)) ? ids : undefined;
        },
        { what: `${wanted.size} valid readings in the readings stream ${seedNote}`, timeoutMs: 60_000, intervalMs: 1_000 },
      ).catch((err: Error) => {
        const ids = readingIds();
        const missing = valid.filter((m) => m.readingIds.some((id) => !ids.has(id)));
        throw new Error(`${err.message}\n${missing.length} messages with readings missing, the first 10:\n${missing.slice(0, 10).map(describeMessage).join('\n')}`);
      });
      expect(inLog.has(sentinelId)).toBe(true);
      console.log(`fuzz ${seedNote}: ${messages.length} messages (${valid.length} with readings, ${malformed.length} malformed) generated in ${generatedIn} ms, all stored ${Date.now() - started} ms after the first publish`);
    } finally {
      await meter.endAsync(true);
    }

    // The dead letters, read from the log itself. Letters for messages this test did not publish
    // (another suite's traffic on the shared broker) are left out of the count.
    const byKey = new Map(messages.map((m) => [keyOf(m.topic, m.payload.toString('base64')), m]));
    const letters = await waitFor(
      () => {
        const all = envelopesInLog<DeadLetterEnvelope>(temp.dir, STREAMS.deadLetters);
        return all.filter((d) => byKey.has(keyOf(d.body.topic, d.body.payload))).length >= malformed.length ? all : undefined;
      },
      { what: `${malformed.length} dead letters ${seedNote}`, timeoutMs: 120_000, intervalMs: 1_000 },
    ).catch((err: Error) => {
      const seen = new Set(envelopesInLog<DeadLetterEnvelope>(temp.dir, STREAMS.deadLetters).map((d) => keyOf(d.body.topic, d.body.payload)));
      const missing = malformed.filter((m) => !seen.has(keyOf(m.topic, m.payload.toString('base64')))).slice(0, 10).map(describeMessage);
      throw new Error(`${err.message}\nwithout a dead letter (first 10): ${missing.join('\n')}`);
    });
    const count = new Map<string, number>();
    const problems: string[] = [];
    let rejectedByProcessor = 0;
    for (const d of letters) {
      const key = keyOf(d.body.topic, d.body.payload);
      const m = byKey.get(key);
      if (!m) continue;
      // Downstream of ingest, the processor dead-letters a stored reading whose time is far ahead
      // of its line's other meters (the fuzzer's times are random): ingest stored it (checked
      // above), so it does not count against ingest here.
      if (!m.deadLetter && d.body.reason.includes('clock ahead of its line')) {
        rejectedByProcessor++;
        continue;
      }
      count.set(key, (count.get(key) ?? 0) + 1);
      if (!m.deadLetter) problems.push(`a valid message was dead-lettered (${d.body.reason}): ${describeMessage(m)}`);
      if (typeof d.body.reason !== 'string' || d.body.reason.trim() === '') problems.push(`a dead letter without a reason: ${describeMessage(m)}`);
    }
    for (const m of malformed) {
      const n = count.get(keyOf(m.topic, m.payload.toString('base64'))) ?? 0;
      if (n !== 1) problems.push(`${n} dead letters, not 1: ${describeMessage(m)}`);
    }
    expect(problems.slice(0, 20)).toEqual([]);
    console.log(`fuzz ${seedNote}: ${rejectedByProcessor} stored readings later dead-lettered by the processor (clock ahead of its line)`);
    // The poison message is among them, with the bytes exactly as published.
    expect(count.get(keyOf(POISON.topic, POISON.payload.toString('base64')))).toBe(1);

    // The bridge took all of it on one connection: it never exited (the sentinel came through it
    // last, and it is still running) and never dropped the broker.
    const bridgeOutput = pipeline!.output('bridge');
    expect(bridgeOutput).not.toContain('disconnected');
    expect(bridgeOutput.match(/connected to mqtt:\/\//g)).toHaveLength(1);
    // Bridge, processor and API, all still alive (they alone carry this MQTT_CLIENT_ID).
    expect(processesWithEnv('MQTT_CLIENT_ID', bridgeClientId)).toHaveLength(3);
  }, 600_000);
});
