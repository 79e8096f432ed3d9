import { decodeEnvelope, STREAMS, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { makeTempDir } from '@meterstream/test-harness';
import * as path from 'node:path';
import { Ingest } from './ingest';

const NOW = Date.parse('2026-11-29T06:00:00Z');
const msg = (topic: string, payload: string) => ({ topic, payload: Buffer.from(payload), qos: 1 as const });

async function readAll(log: EmbeddedStreamLog, stream: string) {
  const out = [];
  for (const p of await log.partitions(stream)) out.push(...(await log.read(stream, p, null, 1000)));
  return out.map((r) => decodeEnvelope(r.value));
}

describe('Ingest', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let log: EmbeddedStreamLog;
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
    const readings = (await readAll(log, STREAMS.readings)) as ReadingEnvelope[];
    expect(readings.map((r) => [r.lineId, r.deviceId, r.body.voltage]).sort()).toEqual([
      ['L01', 'm1', 119.5],
      ['L02', 'm3', 121],
    ]);
    const letters = (await readAll(log, STREAMS.deadLetters)) as DeadLetterEnvelope[];
    expect(letters).toHaveLength(2);
    const byPayload = Object.fromEntries(letters.map((l) => [Buffer.from(l.body.payload, 'base64').toString(), l]));
    expect(byPayload['not json'].body.reason).toContain('not valid JSON');
    expect(byPayload['not json'].lineId).toBe('L02');
    expect(byPayload['{"deviceId":"m2","ts":"2026-11-29T05:00:00Z","voltage":"high"}'].body.reason).toContain('voltage: must be number');
    expect(bridge.counters).toEqual({ readings: 2, deadLetters: 2, batches: 1 });
  });

  it('takes a data concentrator’s batch apart: good readings kept, the message dead-lettered with what was rejected', async () => {
    const bridge = new Ingest(log, { maxFutureSkewMs: 3_600_000, now: () => NOW });
    const batch = [
      { deviceId: 'm1', ts: '2026-11-29T05:00:00Z', voltage: 119.5 },
      { deviceId: 'm2', ts: '2026-11-29T05:00:00Z' },
      { deviceId: 'm3', ts: '2026-11-29T05:00:00Z', voltage: 121.25 },
    ];
    await bridge.ingest([msg('line/L03/SmartMeterData', JSON.stringify(batch))]);
    const readings = (await readAll(log, STREAMS.readings)) as ReadingEnvelope[];
    expect(readings.map((r) => r.deviceId).sort()).toEqual(['m1', 'm3']);
    const [letter] = (await readAll(log, STREAMS.deadLetters)) as DeadLetterEnvelope[];
    expect(letter.body).toMatchObject({ rejectedIndexes: [1], reason: '[1].voltage: is required (volts, a number)' });
    expect(Buffer.from(letter.body.payload, 'base64').toString()).toBe(JSON.stringify(batch));
  });

  it('rejects the batch when the log cannot store it, so nothing is acknowledged', async () => {
    await log.close();
    const bridge = new Ingest(log, { maxFutureSkewMs: 3_600_000, now: () => NOW });
    await expect(bridge.ingest([msg('line/L01/SmartMeterData', '{"deviceId":"m1","ts":"2026-11-29T05:00:00Z","voltage":119.5}')])).rejects.toThrow();
    expect(bridge.counters.readings).toBe(0);
  });
});
