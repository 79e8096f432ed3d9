import { deadLetterId, STREAMS, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { makeTempDir } from '@meterstream/test-harness';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { Ingest } from './ingest';
import { FaultyStreamLog, readEnvelopes } from './testing/faulty-stream-log';
import { checkOutcomes, FUZZ_INGEST_OPTIONS, FUZZ_NOW, fuzzCaseArb, HOSTILE_TOPICS, renderFuzzCase, type FuzzMessage } from './testing/fuzz-messages';

/**
 * Issue 9, "no input stops the flow": fuzzes the real contract and the real Ingest on a real
 * embedded log on disk. Every message must come out exactly once — each valid reading in
 * `readings`, each message with a rejected part as one dead letter with a reason and its bytes —
 * and ingest must never throw.
 */
const MESSAGES_PER_BATCH = 200;
const BATCHES = 50;

describe('Ingest under fuzz', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let opened = 0;
  beforeAll(() => {
    temp = makeTempDir('meterstream-ingest-fuzz-');
  });
  afterAll(() => temp.cleanup());

  async function ingestAndCheck(messages: FuzzMessage[]) {
    const log = EmbeddedStreamLog.open(path.join(temp.dir, `log-${++opened}.sqlite`), { partitions: 4 });
    try {
      const ingest = new Ingest(log, FUZZ_INGEST_OPTIONS);
      await ingest.ingest(messages.map(({ topic, payload }) => ({ topic, payload })));
      const readings = await readEnvelopes<ReadingEnvelope>(log, STREAMS.readings);
      const letters = await readEnvelopes<DeadLetterEnvelope>(log, STREAMS.deadLetters);
      expect(checkOutcomes(messages, readings, letters)).toEqual([]);
      expect(ingest.counters).toEqual({ readings: readings.length, deadLetters: letters.length, batches: 1, storeFailures: 0 });
      return { readings, letters };
    } finally {
      await log.close();
    }
  }

  it(`takes ${MESSAGES_PER_BATCH * BATCHES} generated messages in batches of ${MESSAGES_PER_BATCH}: every one comes out exactly once, nothing valid refused, nothing invalid accepted`, async () => {
    const kinds = new Map<string, number>();
    let messagesIngested = 0;
    let readingsStored = 0;
    let lettersStored = 0;
    let batch = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzCaseArb, { minLength: MESSAGES_PER_BATCH, maxLength: MESSAGES_PER_BATCH }), async (cases) => {
        batch++;
        const messages = cases.map((c, i) => renderFuzzCase(c, `b${batch}m${i}`));
        const { readings, letters } = await ingestAndCheck(messages);
        messagesIngested += messages.length;
        readingsStored += readings.length;
        lettersStored += letters.length;
        for (const m of messages) kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
      }),
      { seed: 9_2026_11_29, numRuns: BATCHES, endOnFailure: true },
    );
    expect(messagesIngested).toBe(MESSAGES_PER_BATCH * BATCHES);
    // The generators reach every kind of input, and both outcomes occur in bulk.
    const allKinds = ['valid', 'valid-batch', 'invalid', 'mixed-batch', 'json', 'bytes', 'bad-utf8', 'deep', 'at-depth-limit', 'sized', 'topic'];
    expect(allKinds.filter((kind) => (kinds.get(kind) ?? 0) < 50)).toEqual([]);
    expect(readingsStored).toBeGreaterThan(5000);
    expect(lettersStored).toBeGreaterThan(4000);
  });

  it('isolates every record the log refuses, storing all else once and dead-lettering the refused messages as "could not be stored"', async () => {
    // A deterministic one in 40 of readings and of contract dead letters is refused by the store.
    const refused = (id: string) => createHash('sha1').update(id).digest()[0] % 40 === 0;
    let batch = 0;
    let failures = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fuzzCaseArb, { minLength: MESSAGES_PER_BATCH, maxLength: MESSAGES_PER_BATCH }), async (cases) => {
        batch++;
        const log = EmbeddedStreamLog.open(path.join(temp.dir, `faulty-${++opened}.sqlite`), { partitions: 4 });
        try {
          const faulty = new FaultyStreamLog(log, (stream, e) => (stream === STREAMS.readings ? refused(e.id) : !(e as DeadLetterEnvelope).body.reason.startsWith('could not') && refused(e.id)));
          const messages = cases.map((c, i) => renderFuzzCase(c, `f${batch}m${i}`));
          // What must come out when the store refuses: the whole message as a "could not be stored"
          // letter if a reading of it is refused; its readings and that letter if its letter is.
          let expectedFailures = 0;
          const expected = messages.map((m): FuzzMessage => {
            const readingRefused = m.readings.some((r) => refused(r.id));
            const letterRefused = m.letter !== undefined && refused(deadLetterId(m.topic, m.payload));
            if (!readingRefused && !letterRefused) return m;
            expectedFailures++;
            const lineId = m.letter?.lineId ?? m.readings[0].lineId;
            const reasonIncludes = ["could not be stored: the test's log refuses"];
            if (readingRefused) return { ...m, readings: [], letter: { lineId, reasonIncludes } };
            return { ...m, letter: { lineId, reasonIncludes, rejectedIndexes: m.letter!.rejectedIndexes } };
          });
          const ingest = new Ingest(faulty, FUZZ_INGEST_OPTIONS);
          await ingest.ingest(messages.map(({ topic, payload }) => ({ topic, payload })));
          const readings = await readEnvelopes<ReadingEnvelope>(log, STREAMS.readings);
          const letters = await readEnvelopes<DeadLetterEnvelope>(log, STREAMS.deadLetters);
          expect(checkOutcomes(expected, readings, letters)).toEqual([]);
          expect(ingest.counters).toEqual({ readings: readings.length, deadLetters: letters.length, batches: 1, storeFailures: expectedFailures });
          failures += expectedFailures;
        } finally {
          await log.close();
        }
      }),
      { seed: 9_2026_11_30, numRuns: 10, endOnFailure: true },
    );
    expect(failures).toBeGreaterThan(50);
  });

  it('takes every hostile input of the fuzz report, each becoming a dead letter with a reason a device maker can act on', async () => {
    const reading = (extra = '') => `{"deviceId":"m-1","ts":"2026-11-29T05:00:00Z","voltage":120${extra}}`;
    const hostile: { topic: string; payload: string | Buffer; lineId: string; reason: string }[] = [
      { topic: 'line/X/SmartMeterData', payload: '{"deviceId":"a","ts":1e308,"voltage":120}', lineId: 'X', reason: 'ts: must be ISO-8601 with a time zone (2026-11-29T05:00:00.000Z) or epoch milliseconds, got 1e+308 (that is after the year 9999)' },
      { topic: 'line/X/SmartMeterData', payload: '{"deviceId":"a","timeStampEpoch":8.64e15,"voltage":120}', lineId: 'X', reason: 'timeStampEpoch: must be epoch milliseconds (an integer), got 8640000000000000 (that is after the year 9999)' },
      { topic: 'line/X/SmartMeterData', payload: reading(',"kwh":1e308'), lineId: 'X', reason: 'kwh: must be <= 1000000000, got 1e+308' },
      { topic: 'line/X/SmartMeterData', payload: reading(',"kwh":1e999'), lineId: 'X', reason: 'kwh: must be a finite number, got Infinity' },
      { topic: 'line/X/SmartMeterData', payload: '{"deviceId":"a","ts":"0001-01-01T00:00:00Z","voltage":120}', lineId: 'X', reason: "ts: 0001-01-01T00:00:00.000Z is before the earliest accepted event time 2000-01-01T00:00:00.000Z; check the meter's clock (it may have reset)" },
      { topic: 'line/X/SmartMeterData', payload: reading(`,"x":${'['.repeat(6000)}${']'.repeat(6000)}`), lineId: 'X', reason: '(payload): is nested 6001 levels deep, over the nesting limit of 16 (a reading is 1 level, a concentrator array of readings 2)' },
      { topic: 'line/X/SmartMeterData', payload: `[${reading(`,"x":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`)}]`, lineId: 'X', reason: '(payload): is nested 2002 levels deep' },
      { topic: 'line/X/SmartMeterData', payload: Buffer.alloc(300_000, 0x5b), lineId: 'X', reason: '(payload): is 300000 bytes, over the size limit of 16384 bytes' },
      ...HOSTILE_TOPICS.map((topic) => ({ topic, payload: reading(), lineId: '(unknown)', reason: '(topic): ' })),
    ];
    const messages: FuzzMessage[] = hostile.map((h) => ({ kind: 'hostile', topic: h.topic, payload: Buffer.from(h.payload), readings: [], letter: { lineId: h.lineId, reasonIncludes: [h.reason] } }));
    const { letters } = await ingestAndCheck(messages);
    // Reasons stay short and show nothing that hides or reorders text, whatever the input.
    for (const letter of letters) {
      expect(letter.body.reason.length).toBeLessThan(300);
      const hidden = [...letter.body.reason].filter((ch) => ch.charCodeAt(0) < 0x20 || (ch >= '\u202A' && ch <= '\u202E'));
      expect(hidden).toEqual([]);
    }
    expect(letters.find((l) => l.id === deadLetterId(HOSTILE_TOPICS[6], messages[8 + 6].payload))!.body.reason).toBe(
      '(topic): the topic\'s line id "\\u202e70L" is not valid; a line id is 1 to 64 characters of A-Z, a-z, 0-9, _ and -',
    );
    expect(FUZZ_NOW).toBe(Date.parse('2026-11-29T06:00:00Z'));
  });
});
