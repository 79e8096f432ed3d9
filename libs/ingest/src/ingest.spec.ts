import { deadLetterId, STREAMS, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { makeTempDir } from '@meterstream/test-harness';
import * as path from 'node:path';
import { Ingest } from './ingest';
import { FaultyStreamLog, readEnvelopes } from './testing/faulty-stream-log';

// The last line of defence (a parser that throws) can only be reached by making the parser throw.
jest.mock('@meterstream/contracts', () => {
  const actual = jest.requireActual('@meterstream/contracts');
  return {
    ...actual,
    parseMessage: jest.fn((topic: string, payload: Buffer, options: unknown) => {
      if (payload.toString() === 'make the parser throw') throw new Error('parser bug \u202E');
      return actual.parseMessage(topic, payload, options);
    }),
  };
});

const NOW = Date.parse('2026-11-29T06:00:00Z');
const msg = (topic: string, payload: string) => ({ topic, payload: Buffer.from(payload), qos: 1 as const });
const reading = (deviceId: string, lineId = 'L01') => msg(`line/${lineId}/SmartMeterData`, JSON.stringify({ deviceId, ts: '2026-11-29T05:00:00Z', voltage: 120 }));
const bytesOf = (letter: DeadLetterEnvelope) => Buffer.from(letter.body.payload, 'base64').toString();

describe('Ingest', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let log: EmbeddedStreamLog;
  const readAll = <T,>(stream: string) => readEnvelopes(log, stream) as Promise<T[]>;
  beforeEach(() => {
    temp = makeTempDir();
    log = EmbeddedStreamLog.open(path.join(temp.dir, 'db.sqlite'), { partitions: 4 });
  });
  afterEach(async () => {
    await log.close();
    temp.cleanup();
  });

  it('appends valid readings keyed by line and routes each invalid message to dead-letters with its reason and bytes', async () => {
    const bridge = new Ingest(log, { maxFutureSkewMs: 3_600_000, now: () => NOW });
    await bridge.ingest([
      msg('line/L01/SmartMeterData', '{"deviceId":"m1","ts":"2026-11-29T05:00:00Z","voltage":119.5}'),
      msg('line/L02/SmartMeterData', '{"deviceId":"m2","ts":"2026-11-29T05:00:00Z","voltage":"high"}'),
      msg('line/L02/SmartMeterData', 'not json'),
      msg('line/L02/SmartMeterData', '{"deviceId":"m3","timeStampEpoch":1795928400000,"voltage":121}'),
    ]);
    const readings = await readAll<ReadingEnvelope>(STREAMS.readings);
    expect(readings.map((r) => [r.lineId, r.deviceId, r.body.voltage]).sort()).toEqual([
      ['L01', 'm1', 119.5],
      ['L02', 'm3', 121],
    ]);
    const letters = await readAll<DeadLetterEnvelope>(STREAMS.deadLetters);
    expect(letters).toHaveLength(2);
    const byPayload = Object.fromEntries(letters.map((l) => [bytesOf(l), l]));
    expect(byPayload['not json'].body.reason).toContain('not valid JSON');
    expect(byPayload['not json'].lineId).toBe('L02');
    expect(byPayload['{"deviceId":"m2","ts":"2026-11-29T05:00:00Z","voltage":"high"}'].body.reason).toContain('voltage: must be number');
    expect(bridge.counters).toEqual({ readings: 2, deadLetters: 2, batches: 1, storeFailures: 0 });
  });

  it('takes a data concentrator’s batch apart: good readings kept, the message dead-lettered with what was rejected', async () => {
    const bridge = new Ingest(log, { maxFutureSkewMs: 3_600_000, now: () => NOW });
    const batch = [
      { deviceId: 'm1', ts: '2026-11-29T05:00:00Z', voltage: 119.5 },
      { deviceId: 'm2', ts: '2026-11-29T05:00:00Z' },
      { deviceId: 'm3', ts: '2026-11-29T05:00:00Z', voltage: 121.25 },
    ];
    await bridge.ingest([msg('line/L03/SmartMeterData', JSON.stringify(batch))]);
    const readings = await readAll<ReadingEnvelope>(STREAMS.readings);
    expect(readings.map((r) => r.deviceId).sort()).toEqual(['m1', 'm3']);
    const [letter] = await readAll<DeadLetterEnvelope>(STREAMS.deadLetters);
    expect(letter.body).toMatchObject({ rejectedIndexes: [1], reason: '[1].voltage: is required (volts, a number)' });
    expect(bytesOf(letter)).toBe(JSON.stringify(batch));
  });

  it('passes the contract’s bounds through: earliest event time, payload size and nesting depth', async () => {
    const bridge = new Ingest(log, { maxFutureSkewMs: 3_600_000, now: () => NOW, earliestEventTime: Date.parse('2026-01-01T00:00:00Z'), maxPayloadBytes: 1024, maxDepth: 3 });
    const old = msg('line/L01/SmartMeterData', '{"deviceId":"m1","ts":"2025-12-31T23:59:59Z","voltage":120}');
    const big = msg('line/L01/SmartMeterData', `{"deviceId":"m2","ts":"2026-11-29T05:00:00Z","voltage":120,"pad":"${'x'.repeat(1024)}"}`);
    const deep = msg('line/L01/SmartMeterData', '{"deviceId":"m3","ts":"2026-11-29T05:00:00Z","voltage":120,"x":[[[]]]}');
    const fine = msg('line/L01/SmartMeterData', '{"deviceId":"m4","ts":"2026-01-01T00:00:00Z","voltage":120,"x":[[]]}');
    await bridge.ingest([old, big, deep, fine]);
    expect((await readAll<ReadingEnvelope>(STREAMS.readings)).map((r) => r.deviceId)).toEqual(['m4']);
    const reasons = Object.fromEntries((await readAll<DeadLetterEnvelope>(STREAMS.deadLetters)).map((l) => [l.id, l.body.reason]));
    expect(reasons[deadLetterId(old.topic, old.payload)]).toContain('before the earliest accepted event time 2026-01-01T00:00:00.000Z');
    expect(reasons[deadLetterId(big.topic, big.payload)]).toContain(`is ${big.payload.length} bytes, over the size limit of 1024 bytes`);
    expect(reasons[deadLetterId(deep.topic, deep.payload)]).toContain('nested 4 levels deep, over the nesting limit of 3');
  });

  it('dead-letters a message on a topic with an invalid line id under line "(unknown)"', async () => {
    const bridge = new Ingest(log, { maxFutureSkewMs: 3_600_000, now: () => NOW });
    const hostile = reading('m1', '\u202E70L');
    await bridge.ingest([hostile, reading('m2', 'L07')]);
    const [letter] = await readAll<DeadLetterEnvelope>(STREAMS.deadLetters);
    expect(letter).toMatchObject({ lineId: '(unknown)', body: { topic: hostile.topic, reason: expect.stringContaining('line id "\\u202e70L" is not valid') } });
    expect((await readAll<ReadingEnvelope>(STREAMS.readings)).map((r) => r.lineId)).toEqual(['L07']);
  });

  it('turns a message that makes the parser throw into its own dead letter; the rest of the batch flows', async () => {
    const bridge = new Ingest(log, { maxFutureSkewMs: 3_600_000, now: () => NOW });
    await bridge.ingest([reading('m1'), msg('line/L01/SmartMeterData', 'make the parser throw'), reading('m2')]);
    expect((await readAll<ReadingEnvelope>(STREAMS.readings)).map((r) => r.deviceId).sort()).toEqual(['m1', 'm2']);
    const [letter] = await readAll<DeadLetterEnvelope>(STREAMS.deadLetters);
    expect(letter.body.reason).toBe('internal error while parsing: parser bug \\u202e');
    expect(letter.lineId).toBe('L01');
    expect(bytesOf(letter)).toBe('make the parser throw');
    expect(bridge.counters).toEqual({ readings: 2, deadLetters: 1, batches: 1, storeFailures: 0 });
  });

  describe('when the log refuses part of a batch', () => {
    it('gives up at once, splitting nothing, when the error says the store is unavailable (SQLite busy)', async () => {
      const busy = new FaultyStreamLog(log, () => true);
      const original = busy.append.bind(busy);
      busy.append = async (stream, records) => {
        await original(stream, records).catch((err: Error) => {
          throw Object.assign(new Error(`database is locked (${err.message})`), { code: 'SQLITE_BUSY' });
        });
      };
      const bridge = new Ingest(busy, { maxFutureSkewMs: 3_600_000, now: () => NOW });
      await expect(bridge.ingest(Array.from({ length: 200 }, (_, i) => reading(`b${i}`)))).rejects.toThrow(/looks unavailable: database is locked/);
      expect(busy.appends).toBe(1);
      expect(await readAll(STREAMS.deadLetters)).toEqual([]);
    });

    it('never dead-letters a valid reading because the log was briefly busy', async () => {
      let busy = 2; // the first two appends fail whatever they hold, then the log works
      const flaky = new FaultyStreamLog(log, () => busy-- > 0);
      const bridge = new Ingest(flaky, { maxFutureSkewMs: 3_600_000, now: () => NOW });
      await bridge.ingest(['a', 'b', 'c', 'd'].map((d) => reading(d)));
      expect((await readAll<ReadingEnvelope>(STREAMS.readings)).map((r) => r.deviceId).sort()).toEqual(['a', 'b', 'c', 'd']);
      expect(await readAll(STREAMS.deadLetters)).toEqual([]);

      // A lone message refused by a busy log is retried by the caller, not dead-lettered.
      busy = 1;
      await expect(bridge.ingest([reading('e')])).rejects.toThrow(/looks (down|unavailable)/);
      expect(await readAll(STREAMS.deadLetters)).toEqual([]);
      await bridge.ingest([reading('e')]);
      expect((await readAll<ReadingEnvelope>(STREAMS.readings)).map((r) => r.deviceId).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('splits the batch until it finds the message the log refuses, stores everything else once, and dead-letters that one', async () => {
      const faulty = new FaultyStreamLog(log, (stream, e) => stream === STREAMS.readings && e.deviceId === 'poison');
      const bridge = new Ingest(faulty, { maxFutureSkewMs: 3_600_000, now: () => NOW });
      const messages = [...['a', 'b', 'c', 'd', 'e'].map((d) => reading(d)), reading('poison', 'L02'), reading('f'), msg('line/L01/SmartMeterData', 'not json')];
      await bridge.ingest(messages);

      const readings = await readAll<ReadingEnvelope>(STREAMS.readings);
      expect(readings.map((r) => r.deviceId).sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']); // each once: no half stored twice
      const letters = await readAll<DeadLetterEnvelope>(STREAMS.deadLetters);
      expect(letters.map(bytesOf).sort()).toEqual([messages[5].payload.toString(), 'not json'].sort());
      const poison = letters.find((l) => l.deviceId === 'poison')!;
      expect(poison).toMatchObject({ lineId: 'L02', id: deadLetterId(messages[5].topic, messages[5].payload) });
      expect(poison.body.reason).toBe("could not be stored: the test's log refuses poison@1795928400000 on readings");
      expect(poison.body.errors[0].field).toBe('(store)');
      expect(bridge.counters).toEqual({ readings: 6, deadLetters: 2, batches: 1, storeFailures: 1 });
      // Halving finds one culprit in a batch of 8 with a handful of appends, not one per message.
      expect(faulty.appends).toBeLessThanOrEqual(12);
    });

    it('keeps a concentrator’s stored readings when only its dead letter is refused, and says which elements were not ingested', async () => {
      const batch = [{ deviceId: 'm1', ts: '2026-11-29T05:00:00Z', voltage: 120 }, { deviceId: 'm2', ts: 'soon', voltage: 120 }];
      const concentrator = msg('line/L05/SmartMeterData', JSON.stringify(batch));
      // The store takes the "could not be stored" letter but not the contract's own one.
      const faulty = new FaultyStreamLog(log, (stream, e) => stream === STREAMS.deadLetters && !(e as DeadLetterEnvelope).body.reason.startsWith('could not'));
      const bridge = new Ingest(faulty, { maxFutureSkewMs: 3_600_000, now: () => NOW });
      await bridge.ingest([reading('a'), concentrator]);

      expect((await readAll<ReadingEnvelope>(STREAMS.readings)).map((r) => r.deviceId).sort()).toEqual(['a', 'm1']);
      const [letter] = await readAll<DeadLetterEnvelope>(STREAMS.deadLetters);
      expect(letter.body.reason).toMatch(/^could not be stored: the test's log refuses dl:/);
      expect(letter.body.rejectedIndexes).toEqual([1]);
      expect(letter.body.errors.map((e) => e.field)).toEqual(['(store)', '[1].ts']);
      expect(bytesOf(letter)).toBe(JSON.stringify(batch));
      expect(bridge.counters).toEqual({ readings: 2, deadLetters: 1, batches: 1, storeFailures: 1 });
    });

    it('rejects, counting only what was stored, when even the refused message’s dead letter cannot be stored', async () => {
      const faulty = new FaultyStreamLog(log, (_stream, e) => e.lineId === 'L09');
      const bridge = new Ingest(faulty, { maxFutureSkewMs: 3_600_000, now: () => NOW });
      await expect(bridge.ingest([reading('a'), reading('b'), reading('c', 'L09'), reading('d')])).rejects.toThrow(/looks (down|unavailable)/);
      const stored = await readAll<ReadingEnvelope>(STREAMS.readings);
      // Everything but the culprit is stored (that is what proves the log works); then its dead letter is refused.
      expect(stored.map((r) => r.deviceId).sort()).toEqual(['a', 'b', 'd']);
      expect(await readAll(STREAMS.deadLetters)).toEqual([]);
      expect(bridge.counters).toEqual({ readings: 3, deadLetters: 0, batches: 0, storeFailures: 0 });
    });

    it('rejects the whole batch and counts nothing when the store is down', async () => {
      const down = new FaultyStreamLog(log, () => true);
      const bridge = new Ingest(down, { maxFutureSkewMs: 3_600_000, now: () => NOW });
      const messages = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? msg('line/L01/SmartMeterData', `bad ${i}`) : reading(`m${i}`)));
      await expect(bridge.ingest(messages)).rejects.toThrow(/looks (down|unavailable)/);
      expect(await readAll(STREAMS.readings)).toEqual([]);
      expect(await readAll(STREAMS.deadLetters)).toEqual([]);
      expect(bridge.counters).toEqual({ readings: 0, deadLetters: 0, batches: 0, storeFailures: 0 });
      // It gives up after a budget of about two paths down the halves (2·log2(200) + 3 appends), not after trying every message.
      expect(down.appends).toBeLessThanOrEqual(19);
    });
  });

  it('rejects the batch when the log cannot store it, so nothing is acknowledged', async () => {
    await log.close();
    const bridge = new Ingest(log, { maxFutureSkewMs: 3_600_000, now: () => NOW });
    await expect(bridge.ingest([msg('line/L01/SmartMeterData', '{"deviceId":"m1","ts":"2026-11-29T05:00:00Z","voltage":119.5}')])).rejects.toThrow();
    expect(bridge.counters.readings).toBe(0);
  });
});
