import { decodeEnvelope, encodeEnvelope, readingId, STREAMS, type AggregateEnvelope, type AlertEnvelope, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { SqliteReadModel } from '@meterstream/read-model';
import { decodeCheckpoint } from '@meterstream/processing';
import { EmbeddedStreamLog, openEmbeddedDatabase, SqliteCheckpointStore } from '@meterstream/stream';
import { makeTempDir } from '@meterstream/test-harness';
import type Database from 'better-sqlite3';
import * as path from 'node:path';
import { StreamProcessor } from '../stream-processor';
import { EmbeddedTransactionCommit } from './embedded-transaction-commit';

const T0 = Date.parse('2026-11-29T00:00:00Z');
const MINUTE = 60_000;
const GROUP = 'stream-processor';

function reading(lineId: string, deviceId: string, eventTime: number, voltage: number): ReadingEnvelope {
  return {
    v: 1,
    type: 'reading',
    id: readingId(deviceId, eventTime),
    lineId,
    deviceId,
    eventTime,
    ingestTime: eventTime + 100,
    body: { deviceId, lineId, ts: new Date(eventTime).toISOString(), voltage },
  };
}

/** Ten minutes of two lines; L2 sags below 114 V in minutes 3–5. */
function input(): ReadingEnvelope[] {
  const out: ReadingEnvelope[] = [];
  for (let t = T0; t < T0 + 10 * MINUTE; t += 15_000) {
    const minute = Math.floor((t - T0) / MINUTE);
    out.push(reading('L1', 'm1', t, 120 + (t % 7) / 10));
    out.push(reading('L1', 'm2', t + 1, 119));
    out.push(reading('L2', 'm3', t + 2, minute >= 3 && minute < 5 ? 111.5 : 118));
  }
  return out;
}

interface Harness {
  db: Database.Database;
  log: EmbeddedStreamLog;
  readModel: SqliteReadModel;
  runtime: (checkpoints?: SqliteCheckpointStore) => StreamProcessor;
}

function harness(dir: string, name: string, readingRetentionMs = 1e12, partitions = 2): Harness {
  const db = openEmbeddedDatabase(path.join(dir, `${name}.db`), { synchronous: 'normal' });
  const log = new EmbeddedStreamLog(db, { partitions });
  const readModel = new SqliteReadModel(db);
  return {
    db,
    log,
    readModel,
    runtime: (checkpoints = new SqliteCheckpointStore(db)) => {
      const commit = new EmbeddedTransactionCommit({ db, log, readModel, checkpoints }, GROUP, 1e12);
      return new StreamProcessor(
        { log, checkpoints, commit },
        {
          topology: { windowSizeMs: MINUTE, outOfOrdernessMs: 10_000, allowedLatenessMs: 0, idleTimeoutMs: Infinity, clearAfterWindows: 2 },
          group: GROUP,
          maxRecordsPerPartition: 7,
          idlePollMs: 10,
          readingRetentionMs,
          // The transaction checkpoints every poll whatever these say.
          checkpointEveryBatches: 1000,
          checkpointIntervalMs: Infinity,
          now: () => T0,
          errorBackoffMs: 1,
        },
      );
    },
  };
}

async function readStream(log: EmbeddedStreamLog, stream: string): Promise<string[]> {
  const values: string[] = [];
  for (const p of await log.partitions(stream)) values.push(...(await log.read(stream, p, null, 100_000)).map((r) => r.value.toString()));
  return values.sort();
}

async function drain(runtime: StreamProcessor): Promise<void> {
  await runtime.join();
  while ((await runtime.poll()) > 0);
}

describe('StreamProcessor with the embedded transaction commit', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => (temp = makeTempDir()));
  afterEach(() => temp.cleanup());

  it('turns readings into aggregates, alerts and a read model, committing the checkpoints with them', async () => {
    const h = harness(temp.dir, 'a');
    await h.log.append(STREAMS.readings, input().map((r) => ({ key: r.lineId, value: encodeEnvelope(r) })));
    const runtime = h.runtime();
    await drain(runtime);

    const aggregates = (await readStream(h.log, STREAMS.aggregates)).map((v) => decodeEnvelope<AggregateEnvelope>(v));
    // The watermark (max 09:59:45 − 10 s) has passed the end of minutes 0..8 only.
    expect(aggregates.filter((a) => a.lineId === 'L1').map((a) => (a.body.windowStart - T0) / MINUTE).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const l2m3 = aggregates.find((a) => a.lineId === 'L2' && a.body.windowStart === T0 + 3 * MINUTE)!;
    expect(l2m3.body).toMatchObject({ count: 4, meters: 1, voltage: { min: 111.5, max: 111.5, mean: 111.5, stddev: 0 } });

    const alerts = (await readStream(h.log, STREAMS.alerts)).map((v) => decodeEnvelope<AlertEnvelope>(v));
    expect(alerts.map((a) => [a.lineId, a.body.kind, a.body.state])).toEqual(
      expect.arrayContaining([
        ['L2', 'voltage-low', 'raised'],
        ['L2', 'voltage-low', 'cleared'],
      ]),
    );
    expect(alerts).toHaveLength(2);

    expect((await h.readModel.aggregates('L2', { from: T0, to: T0 + 10 * MINUTE })).length).toBe(9);
    expect((await h.readModel.readings('L1', { from: T0, to: T0 + 10 * MINUTE }, 10_000)).length).toBe(80);
    // Each partition's checkpoint, saved in the same transaction, covers every reading of it.
    const saved = new SqliteCheckpointStore(h.db).loadAllSync(GROUP);
    expect([...saved.keys()].sort()).toEqual(['0', '1']);
    for (const [partition, text] of saved) {
      const records = await h.log.read(STREAMS.readings, partition, null, 100_000);
      expect(decodeCheckpoint(partition, text).position).toBe(records[records.length - 1].position);
    }
    h.db.close();
  });

  it('resumes from its checkpoint after a restart with exactly the output of an uninterrupted run', async () => {
    const records = input().map((r) => ({ key: r.lineId, value: encodeEnvelope(r) }));

    const straight = harness(temp.dir, 'straight');
    await straight.log.append(STREAMS.readings, records);
    await drain(straight.runtime());

    const restarted = harness(temp.dir, 'restarted');
    await restarted.log.append(STREAMS.readings, records.slice(0, 50));
    let runtime = restarted.runtime();
    await runtime.join();
    await runtime.poll();
    await runtime.poll();
    // "Crash": the instance is dropped; a new one starts from whatever was checkpointed.
    runtime = restarted.runtime();
    await drain(runtime);
    await restarted.log.append(STREAMS.readings, records.slice(50));
    runtime = restarted.runtime();
    await drain(runtime);

    for (const stream of [STREAMS.aggregates, STREAMS.alerts]) {
      expect(await readStream(restarted.log, stream)).toEqual(await readStream(straight.log, stream));
    }
    expect(await restarted.readModel.lines()).toEqual(await straight.readModel.lines());
    straight.db.close();
    restarted.db.close();
  });

  it('commits a poll whole or not at all: after a failure part-way nothing of it is visible, and the retry emits each record once', async () => {
    const records = input().map((r) => ({ key: r.lineId, value: encodeEnvelope(r) }));
    const straight = harness(temp.dir, 'whole');
    await straight.log.append(STREAMS.readings, records);
    await drain(straight.runtime());

    const h = harness(temp.dir, 'failing');
    await h.log.append(STREAMS.readings, records);
    /**
     * A store whose save fails once: in the first transaction that appended an aggregate (inside
     * it, the transaction's own appends are visible), i.e. after outputs and read model were written.
     */
    class FailingOnce extends SqliteCheckpointStore {
      failed = false;
      override saveSync(group: string, partition: string, checkpoint: string): void {
        if (!this.failed && h.log.countSync(STREAMS.aggregates) > 0) {
          this.failed = true;
          throw new Error('disk I/O error (injected)');
        }
        super.saveSync(group, partition, checkpoint);
      }
    }
    const store = new FailingOnce(h.db);
    const runtime = h.runtime(store);
    await runtime.join();
    const outputs = () => [STREAMS.aggregates, STREAMS.alerts, STREAMS.lateReadings].map((stream) => h.log.countSync(stream));
    while (!store.failed) await runtime.poll().catch((err: Error) => expect(err.message).toContain('injected'));
    // The failed transaction had appended aggregates and applied the read model: all rolled back.
    expect(outputs()).toEqual([0, 0, 0]);
    expect(await h.readModel.aggregates('L1', { from: T0, to: T0 + 10 * MINUTE })).toEqual([]);
    expect(runtime.counters.rollbacks).toBe(1);
    while ((await runtime.poll()) > 0);

    for (const stream of [STREAMS.aggregates, STREAMS.alerts]) {
      expect(await readStream(h.log, stream)).toEqual(await readStream(straight.log, stream));
    }
    expect(await h.readModel.lines()).toEqual(await straight.readModel.lines());
    straight.db.close();
    h.db.close();
  });

  it('keeps raw readings for the retention behind the newest event time, whatever the wall clock says', async () => {
    const h = harness(temp.dir, 'retention', 3 * MINUTE);
    await h.log.append(STREAMS.readings, input().map((r) => ({ key: r.lineId, value: encodeEnvelope(r) })));
    await drain(h.runtime());
    const kept = await h.readModel.readings('L1', { from: T0, to: T0 + 10 * MINUTE }, 10_000);
    // Newest event time is 09:45.001; three minutes back is 06:45.001.
    expect(Math.min(...kept.map((r) => r.eventTime))).toBe(T0 + 7 * MINUTE);
    expect(kept).toHaveLength(2 * 12);
    // Aggregates are not raw readings: they are all kept.
    expect((await h.readModel.aggregates('L1', { from: T0, to: T0 + 10 * MINUTE })).length).toBe(9);
    h.db.close();
  });

  it('sends readings later than the grace to the late side output and the line’s counter, and into no window', async () => {
    const h = harness(temp.dir, 'late');
    const onTime = input();
    const late = reading('L1', 'm9', T0 + 30_000, 90); // minute 0 fired long ago; 90 V would show in min
    const duplicate = onTime[onTime.length - 1];
    const all = [...onTime, late, duplicate];
    await h.log.append(STREAMS.readings, all.map((r) => ({ key: r.lineId, value: encodeEnvelope(r) })));
    await drain(h.runtime());

    const lateStream = (await readStream(h.log, STREAMS.lateReadings)).map((v) => decodeEnvelope<ReadingEnvelope>(v));
    expect(lateStream).toEqual([late]);
    const [l1] = (await h.readModel.lines()).filter((l) => l.lineId === 'L1');
    expect(l1).toMatchObject({ lateReadings: 1, duplicateReadings: 0 });
    const [l2] = (await h.readModel.lines()).filter((l) => l.lineId === 'L2');
    expect(l2).toMatchObject({ lateReadings: 0, duplicateReadings: 1 });
    const aggregates = (await readStream(h.log, STREAMS.aggregates)).map((v) => decodeEnvelope<AggregateEnvelope>(v));
    const minute0 = aggregates.find((a) => a.lineId === 'L1' && a.body.windowStart === T0)!;
    expect(minute0.body).toMatchObject({ count: 8, meters: 2 });
    expect(Math.min(...aggregates.map((a) => a.body.voltage.min))).toBeGreaterThan(100);
    const raw = await h.readModel.readings('L1', { from: T0, to: T0 + 10 * MINUTE }, 10_000);
    expect(raw.map((r) => r.deviceId)).not.toContain('m9');
    expect(raw).toHaveLength(80);
    expect((await readStream(h.log, STREAMS.alerts)).map((v) => decodeEnvelope<AlertEnvelope>(v).lineId)).not.toContain('L1');
    h.db.close();
  });

  it('projects dead letters into the read model', async () => {
    const h = harness(temp.dir, 'dl');
    const letter = {
      v: 1,
      type: 'dead-letter',
      id: 'dl:abc',
      lineId: 'L1',
      deviceId: null,
      eventTime: T0,
      ingestTime: T0,
      body: { reason: 'voltage: is required', errors: [{ field: 'voltage', message: 'is required' }], topic: 'line/L1/SmartMeterData', payload: Buffer.from('{}').toString('base64'), receivedAt: T0 },
    };
    await h.log.append(STREAMS.deadLetters, [{ key: 'L1', value: Buffer.from(JSON.stringify(letter)) }]);
    await drain(h.runtime());
    const rows = await h.readModel.deadLetters(10);
    expect(rows.map((r) => [r.id, r.reason])).toEqual([['dl:abc', 'voltage: is required']]);
    h.db.close();
  });

  describe('event time per line (lines sharing one partition)', () => {
    const toRecords = (readings: ReadingEnvelope[]) => readings.map((r) => ({ key: r.lineId, value: encodeEnvelope(r) }));
    const at = (r: ReadingEnvelope, ingestTime: number): ReadingEnvelope => ({ ...r, ingestTime });

    it('windows a line delivered 3 minutes behind completely, next to a live line', async () => {
      const h = harness(temp.dir, 'delays', 1e12, 1); // one partition: both lines share it
      const records: ReadingEnvelope[] = [];
      // Arrival order: every 15 s L1's live reading, and L2's reading of 3 minutes before.
      for (let t = T0; t < T0 + 12 * MINUTE; t += 15_000) {
        records.push(at(reading('L1', 'live-1', t, 120), t + 100));
        if (t - 3 * MINUTE >= T0) records.push(at(reading('L2', 'late-1', t - 3 * MINUTE, 119), t + 200));
      }
      await h.log.append(STREAMS.readings, toRecords(records));
      await drain(h.runtime());
      const aggregates = (await readStream(h.log, STREAMS.aggregates)).map((v) => decodeEnvelope<AggregateEnvelope>(v).body);
      const full = (lineId: string) => aggregates.filter((a) => a.lineId === lineId && a.count === 4).length;
      expect(full('L1')).toBeGreaterThanOrEqual(10);
      expect(full('L2')).toBeGreaterThanOrEqual(7); // every window of L2 whose readings all arrived
      expect(aggregates.every((a) => a.count === 4)).toBe(true); // no window fired short
      expect(await readStream(h.log, STREAMS.lateReadings)).toEqual([]);
      // Each line's delivery delay, as the read model (GET /lines, /metrics) has it: measured at the line's last arrival.
      const last = T0 + 12 * MINUTE - 15_000;
      expect((await h.readModel.line('L1'))?.deliveryDelay).toEqual({ ewmaMs: 100, maxMs: 100, measuredAt: last + 100 });
      expect((await h.readModel.line('L2'))?.deliveryDelay).toEqual({ ewmaMs: 3 * MINUTE + 200, maxMs: 3 * MINUTE + 200, measuredAt: last + 200 });
      h.db.close();
    });

    it('dead-letters one reading of a meter 50 minutes fast, and makes nobody else late', async () => {
      const h = harness(temp.dir, 'fast-clock', 1e12, 1);
      const records: ReadingEnvelope[] = [];
      for (let t = T0; t < T0 + 10 * MINUTE; t += 15_000) {
        records.push(reading('L1', 'm1', t, 120), reading('L1', 'm2', t + 1, 119), reading('L2', 'm3', t + 2, 118));
        if (t === T0 + 2 * MINUTE) records.push(at(reading('L1', 'fast', t + 50 * MINUTE, 121), t + 150)); // its clock is 50 min ahead
      }
      await h.log.append(STREAMS.readings, toRecords(records));
      const runtime = h.runtime();
      await drain(runtime);
      expect(await readStream(h.log, STREAMS.lateReadings)).toEqual([]);
      const letters = (await readStream(h.log, STREAMS.deadLetters)).map((v) => decodeEnvelope<DeadLetterEnvelope>(v));
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ lineId: 'L1', deviceId: 'fast' });
      expect(letters[0].body.reason).toContain('clock ahead of its line');
      expect(JSON.parse(Buffer.from(letters[0].body.payload, 'base64').toString()).deviceId).toBe('fast');
      // Read back like any dead letter: in the read model, and not among the line's readings.
      expect((await h.readModel.deadLetters(10)).map((d) => d.deviceId)).toEqual(['fast']);
      const l1 = await h.readModel.readings('L1', { from: T0, to: T0 + 2 * 3_600_000 }, 1000);
      expect(l1.some((r) => r.deviceId === 'fast')).toBe(false);
      h.db.close();
    });
  });
});
