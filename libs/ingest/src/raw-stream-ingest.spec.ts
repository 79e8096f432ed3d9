import { STREAMS, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { EmbeddedStreamLog, type StreamLog } from '@meterstream/stream';
import { makeTempDir } from '@meterstream/test-harness';
import fc from 'fast-check';
import * as path from 'node:path';
import { Ingest } from './ingest';
import { toIotRuleRecord } from './iot-rule-record';
import { RawStreamIngest } from './raw-stream-ingest';
import { FaultyStreamLog, readEnvelopes } from './testing/faulty-stream-log';
import { checkOutcomes, FUZZ_INGEST_OPTIONS, FUZZ_NOW, fuzzCaseArb, renderFuzzCase, type FuzzMessage } from './testing/fuzz-messages';

const RAW = 'raw';
const GROUP = 'ingest-bridge';
/** The line, as the rule's partition key `${topic(2)}` gives it. */
const keyOf = (topic: string) => topic.split('/')[1] || '(empty)';

/** Writes the messages to the raw stream as the IoT rule would: one record each, keyed by line, received at FUZZ_NOW. */
async function putAsRule(log: StreamLog, messages: readonly { topic: string; payload: Buffer }[], receivedAt = FUZZ_NOW): Promise<void> {
  await log.append(
    RAW,
    messages.map((m) => ({ key: keyOf(m.topic), value: toIotRuleRecord(m.topic, m.payload, receivedAt) })),
  );
}

/** The stored outcome without what differs by path or by attempt: the append positions. */
const readingsOf = async (log: StreamLog) => (await readEnvelopes<ReadingEnvelope>(log, STREAMS.readings)).map((r) => JSON.stringify(r)).sort();
const lettersOf = async (log: StreamLog) => (await readEnvelopes<DeadLetterEnvelope>(log, STREAMS.deadLetters)).map((r) => JSON.stringify(r)).sort();

describe('RawStreamIngest (the IoT rule raw stream into readings and dead letters)', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let opened = 0;
  const logs: EmbeddedStreamLog[] = [];
  const open = () => {
    const log = EmbeddedStreamLog.open(path.join(temp.dir, `log-${++opened}.sqlite`), { partitions: 4 });
    logs.push(log);
    return log;
  };
  beforeEach(() => {
    temp = makeTempDir('meterstream-raw-ingest-');
  });
  afterEach(async () => {
    await Promise.all(logs.splice(0).map((l) => l.close()));
    temp.cleanup();
  });

  const consumer = (log: StreamLog, maxRecordsPerPoll = 500) => new RawStreamIngest(log, new Ingest(log, FUZZ_INGEST_OPTIONS), { stream: RAW, group: GROUP, maxRecordsPerPoll, idlePollMs: 10 });
  const drain = async (c: RawStreamIngest) => {
    while ((await c.poll()) > 0);
  };

  it('stores exactly what the MQTT path stores for the same messages, valid and hostile alike', async () => {
    const messages: FuzzMessage[] = fc.sample(fuzzCaseArb, { seed: 14_2026, numRuns: 1500 }).map((c, i) => renderFuzzCase(c, `r${i}`));
    // The MQTT path: the messages straight into Ingest, arriving at FUZZ_NOW.
    const mqttLog = open();
    for (let i = 0; i < messages.length; i += 300) await new Ingest(mqttLog, FUZZ_INGEST_OPTIONS).ingest(messages.slice(i, i + 300).map(({ topic, payload }) => ({ topic, payload })));
    // The rule path: the same messages as raw records received at FUZZ_NOW, read in polls of at most 500.
    const ruleLog = open();
    await putAsRule(ruleLog, messages);
    const raw = consumer(ruleLog);
    await raw.join();
    expect(raw.ownedPartitions()).toEqual(['0', '1', '2', '3']);
    await drain(raw);

    expect(raw.counters).toMatchObject({ records: messages.length, notRuleRecords: 0 });
    expect(raw.counters.batches).toBeGreaterThanOrEqual(3);
    const ruleReadings = await readingsOf(ruleLog);
    expect(ruleReadings.length).toBeGreaterThan(500);
    expect(ruleReadings).toEqual(await readingsOf(mqttLog));
    expect(await lettersOf(ruleLog)).toEqual(await lettersOf(mqttLog));
    // And what came out is what each message must give (the fuzz suite's independent expectations).
    expect(checkOutcomes(messages, await readEnvelopes(ruleLog, STREAMS.readings), await readEnvelopes(ruleLog, STREAMS.deadLetters))).toEqual([]);
  });

  it("dead-letters a record that is not the rule's shape with its exact bytes and the reason, and the records around it flow", async () => {
    const log = open();
    const good = { topic: 'line/L01/SmartMeterData', payload: Buffer.from('{"deviceId":"m1","ts":"2026-11-29T05:00:00Z","voltage":120}') };
    await putAsRule(log, [good]);
    await log.append(RAW, [{ key: 'L01', value: Buffer.from('{"deviceId":"m2","ts":"2026-11-29T05:00:00Z","voltage":121}') }]);
    await putAsRule(log, [{ ...good, payload: Buffer.from('{"deviceId":"m3","ts":"2026-11-29T05:00:00Z","voltage":122}') }]);
    const raw = consumer(log);
    await raw.join();
    await drain(raw);
    const readings = await readEnvelopes<ReadingEnvelope>(log, STREAMS.readings);
    expect(readings.map((r) => r.deviceId).sort()).toEqual(['m1', 'm3']);
    const [letter] = await readEnvelopes<DeadLetterEnvelope>(log, STREAMS.deadLetters);
    expect(Buffer.from(letter.body.payload, 'base64').toString()).toBe('{"deviceId":"m2","ts":"2026-11-29T05:00:00Z","voltage":121}');
    expect(letter.body.reason).toMatch(/^not an IoT rule record .*payload must be a base64 string/);
    expect(letter.body.topic).toBe('(raw record, partition key "L01")');
    expect(raw.counters).toMatchObject({ records: 3, notRuleRecords: 1 });
  });

  it('commits each partition after its batch is stored, and a restarted member continues from there', async () => {
    const log = open();
    const batch = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ topic: `line/L${(from + i) % 7}/SmartMeterData`, payload: Buffer.from(JSON.stringify({ deviceId: `m${from + i}`, ts: FUZZ_NOW - 60_000, voltage: 120 })) }));
    await putAsRule(log, batch(0, 100));
    const first = consumer(log);
    await first.join();
    await drain(first);
    const committed = await log.committed(GROUP, RAW);
    for (const p of await log.partitions(RAW)) {
      const records = await log.read(RAW, p, null, 1000);
      expect([p, committed.get(p)]).toEqual([p, records.at(-1)?.position]);
    }
    await first.stop();

    await putAsRule(log, batch(100, 50));
    const second = consumer(log);
    await second.join();
    await drain(second);
    // Only the new records: nothing read twice across a clean restart.
    expect(second.counters.records).toBe(50);
    expect((await readEnvelopes<ReadingEnvelope>(log, STREAMS.readings)).length).toBe(150);
    await second.stop();
  });

  it('commits nothing while the log refuses the batch, and stores it once the log is back', async () => {
    const log = open();
    await putAsRule(log, [{ topic: 'line/L01/SmartMeterData', payload: Buffer.from('{"deviceId":"m1","ts":"2026-11-29T05:00:00Z","voltage":120}') }]);
    let down = true;
    const faulty = new FaultyStreamLog(log, () => down);
    const raw = new RawStreamIngest(faulty, new Ingest(faulty, FUZZ_INGEST_OPTIONS), { stream: RAW, group: GROUP, maxRecordsPerPoll: 10, idlePollMs: 10 });
    await raw.join();
    await expect(raw.poll()).rejects.toThrow(/stored none of the batch/);
    expect(await log.committed(GROUP, RAW)).toEqual(new Map());
    down = false;
    await expect(raw.poll()).resolves.toBe(1);
    expect((await readEnvelopes<ReadingEnvelope>(log, STREAMS.readings)).map((r) => r.deviceId)).toEqual(['m1']);
    expect((await log.committed(GROUP, RAW)).size).toBe(1);
  });

  it('after a crash between storing and committing, reads the records again and stores byte-identical envelopes (the same ids, the same ingest time)', async () => {
    const log = open();
    await putAsRule(log, [
      { topic: 'line/L01/SmartMeterData', payload: Buffer.from('{"deviceId":"m1","ts":"2026-11-29T05:00:00Z","voltage":120}') },
      { topic: 'line/L01/SmartMeterData', payload: Buffer.from('{"deviceId":"m2","voltage":"high"}') },
    ]);
    // A member whose commits never arrive: stored, not checkpointed (the process dies right after storing).
    const crashing: StreamLog = Object.assign(Object.create(log) as StreamLog, {
      commit: async () => {
        throw new Error('killed before the commit');
      },
    });
    const errors: string[] = [];
    const first = new RawStreamIngest(crashing, new Ingest(log, FUZZ_INGEST_OPTIONS), { stream: RAW, group: GROUP, maxRecordsPerPoll: 10, idlePollMs: 10, onError: (e) => errors.push(e.message) });
    await first.join();
    expect(await first.poll()).toBe(2);
    expect(errors).toEqual([expect.stringContaining('killed before the commit')]);
    await first.stop();

    const second = consumer(log);
    await second.join();
    expect(await second.poll()).toBe(2);
    const readings = await readEnvelopes<ReadingEnvelope>(log, STREAMS.readings);
    const letters = await readEnvelopes<DeadLetterEnvelope>(log, STREAMS.deadLetters);
    expect(readings).toHaveLength(2);
    expect(JSON.stringify(readings[1])).toBe(JSON.stringify(readings[0]));
    expect(readings[0].ingestTime).toBe(FUZZ_NOW);
    expect(letters).toHaveLength(2);
    expect(JSON.stringify(letters[1])).toBe(JSON.stringify(letters[0]));
  });
});
