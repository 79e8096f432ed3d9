import * as path from 'node:path';
import { decodeEnvelope, encodeEnvelope, readingTopic, STREAMS, type AggregateEnvelope, type Envelope, type ReadingEnvelope } from '@meterstream/contracts';
import { createAlertRules, decodeCheckpoint, resolveProcessorOptions, type VoltageModelVersion } from '@meterstream/processing';
import { SqliteReadModel, type ReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, type StreamLog, type StreamRecord, SqliteCheckpointStore } from '@meterstream/stream';
import { deadLetterEnvelope, makeTempDir, readingEnvelope, waitFor } from '@meterstream/test-harness';
import { FlushThenCheckpointCommit, type FlushThenCheckpointPorts } from './commit/flush-then-checkpoint';
import { StreamProcessor, type StreamProcessorOptions } from './stream-processor';
import { ControlledGroup } from './testing/controlled-group';
import { FaultyStreamLog, InjectedFault } from './testing/faults';
import { BufferingReadModel } from './testing/volatile-sinks';

const T0 = Date.parse('2026-11-29T00:00:00Z');
const MINUTE = 60_000;
const GROUP = 'stream-processor';

/** Ten minutes of two lines on two partitions (L2 → partition 0, L1 → partition 1); L2 sags in minutes 3–5. */
function input(): ReadingEnvelope[] {
  const out: ReadingEnvelope[] = [];
  for (let t = T0; t < T0 + 10 * MINUTE; t += 15_000) {
    const minute = Math.floor((t - T0) / MINUTE);
    out.push(readingEnvelope('L1', 'm1', t, { voltage: 120 }));
    out.push(readingEnvelope('L1', 'm2', t + 1, { voltage: 119 }));
    out.push(readingEnvelope('L2', 'm3', t + 2, { voltage: minute >= 3 && minute < 5 ? 111.5 : 118 }));
  }
  return out;
}

const records = (envelopes: readonly Envelope[]) => envelopes.map((e) => ({ key: e.lineId, value: encodeEnvelope(e) }));

function options(overrides: Partial<StreamProcessorOptions> = {}): StreamProcessorOptions {
  return {
    topology: { windowSizeMs: MINUTE, outOfOrdernessMs: 10_000, allowedLatenessMs: 0, idleTimeoutMs: Infinity, clearAfterWindows: 2 },
    group: GROUP,
    maxRecordsPerPartition: 7,
    idlePollMs: 5,
    readingRetentionMs: 1e12,
    checkpointEveryBatches: 3,
    checkpointIntervalMs: Infinity,
    errorBackoffMs: 5,
    now: () => T0,
    ...overrides,
  };
}

interface Harness {
  log: EmbeddedStreamLog;
  readModel: SqliteReadModel;
  checkpoints: SqliteCheckpointStore;
  ports(overrides?: Partial<FlushThenCheckpointPorts>): FlushThenCheckpointPorts;
  close(): Promise<void>;
}

function harness(dir: string, name: string): Harness {
  const log = EmbeddedStreamLog.open(path.join(dir, `${name}.db`), { partitions: 2, synchronous: 'normal' });
  const readModel = new SqliteReadModel(log.db);
  const checkpoints = SqliteCheckpointStore.open(path.join(dir, `${name}-checkpoints.db`));
  return {
    log,
    readModel,
    checkpoints,
    ports: (overrides = {}) => ({ log, readModel, checkpoints, ...overrides }),
    close: async () => {
      await checkpoints.close();
      await log.close();
    },
  };
}

async function streamValues(log: StreamLog, stream: string): Promise<string[]> {
  const values: string[] = [];
  for (const p of await log.partitions(stream)) values.push(...(await log.read(stream, p, null, 100_000)).map((r) => r.value.toString()));
  return values;
}

async function drain(processor: StreamProcessor): Promise<void> {
  while ((await processor.poll()) > 0);
}

/** The runtime with the distributed engines' commit strategy, over the given ports. */
function flushThenCheckpoint(ports: FlushThenCheckpointPorts, settings: StreamProcessorOptions): StreamProcessor {
  const commit = new FlushThenCheckpointCommit(ports, settings.group, (err, context) => settings.onError?.(new Error(`${context}: ${(err as Error).message}`)));
  return new StreamProcessor({ log: ports.log, checkpoints: ports.checkpoints, commit }, settings);
}

describe('StreamProcessor with the flush-then-checkpoint commit', () => {
  let temp: ReturnType<typeof makeTempDir>;
  beforeEach(() => (temp = makeTempDir()));
  afterEach(() => temp.cleanup());

  it('runs one topology per partition: windows, alerts, read model and merged stats as one topology would give', async () => {
    const h = harness(temp.dir, 'basic');
    await h.log.append(STREAMS.readings, records(input()));
    const processor = flushThenCheckpoint(h.ports(), options());
    await processor.join();
    expect(processor.ownedPartitions()).toEqual(['0', '1']);
    await drain(processor);

    const aggregates = (await streamValues(h.log, STREAMS.aggregates)).map((v) => decodeEnvelope<AggregateEnvelope>(v));
    // Watermark (max 09:45.002 − 10 s) has passed the end of minutes 0..8 on both partitions.
    for (const lineId of ['L1', 'L2']) {
      expect(aggregates.filter((a) => a.lineId === lineId).map((a) => (a.body.windowStart - T0) / MINUTE)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
    const alerts = (await streamValues(h.log, STREAMS.alerts)).map((v) => decodeEnvelope<Envelope>(v).id);
    expect(alerts).toEqual([expect.stringMatching(/:raised$/), expect.stringMatching(/:cleared$/)]);
    expect(await h.readModel.readings('L1', { from: T0, to: T0 + 10 * MINUTE }, 1000)).toHaveLength(80);
    expect(await h.readModel.aggregates('L2', { from: T0, to: T0 + 10 * MINUTE })).toHaveLength(9);

    const stats = processor.stats();
    expect(stats.lines).toBe(2);
    expect(stats.meters).toBe(3);
    // Watermarks are per line (each line its own source), whichever partition carries it.
    expect(Object.keys(stats.watermarks).sort()).toEqual(['L1', 'L2']);
    // L1's two meters: the lower median of their newest readings (09:45.000 and 09:45.001), minus 10 s.
    expect(stats.watermarks.L1).toBe(T0 + 9 * MINUTE + 45_000 - 10_000);
    expect(stats.lineClocks?.L1).toMatchObject({ partition: '1', activeMeters: 2, deliveryDelayMs: 150 });
    expect(stats.lineClocks?.L2).toMatchObject({ partition: '0', activeMeters: 1, deliveryDelayMs: 150 });
    // Each partition's ingest clock: the highest ingestTime read from it.
    expect(stats.ingestClocks).toEqual({ '0': T0 + 9 * MINUTE + 45_002 + 150, '1': T0 + 9 * MINUTE + 45_001 + 150 });
    expect(stats.openWindows).toBe(2);
    await h.close();
  });

  it('stops at a checkpoint: a restarted instance continues without repeating a single output', async () => {
    const all = records(input());
    const straight = harness(temp.dir, 'straight');
    await straight.log.append(STREAMS.readings, all);
    const once = flushThenCheckpoint(straight.ports(), options());
    await once.join();
    await drain(once);

    const restarted = harness(temp.dir, 'restarted');
    await restarted.log.append(STREAMS.readings, all.slice(0, 70));
    const first = flushThenCheckpoint(restarted.ports(), options());
    await first.start();
    await waitFor(() => first.counters.readings === 70, { what: 'the first 70 readings' });
    await first.stop();
    expect(first.ownedPartitions()).toEqual([]);
    for (const partition of ['0', '1']) expect(decodeCheckpoint(partition, await restarted.checkpoints.load(GROUP, partition)).position).not.toBeNull();

    await restarted.log.append(STREAMS.readings, all.slice(70));
    const second = flushThenCheckpoint(restarted.ports(), options());
    await second.join();
    await drain(second);
    expect(second.counters.readings).toBe(all.length - 70);
    for (const stream of [STREAMS.aggregates, STREAMS.alerts]) {
      const got = await streamValues(restarted.log, stream);
      expect(got.length).toBeGreaterThan(0);
      expect(got.sort()).toEqual((await streamValues(straight.log, stream)).sort());
    }
    await straight.close();
    await restarted.close();
  });

  it('lets revoked() wait for the poll in flight, then checkpoints what that poll processed', async () => {
    const h = harness(temp.dir, 'revoke');
    await h.log.append(STREAMS.readings, records(input()));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let readsStarted = 0;
    // The shared log with reads that wait at the gate: a poll stays in flight until the test opens it.
    const gated: StreamLog = Object.create(h.log, {
      read: {
        value: async (stream: string, partition: string, after: string | null, max: number): Promise<StreamRecord[]> => {
          readsStarted++;
          await gate;
          return h.log.read(stream, partition, after, max);
        },
      },
    });
    const group = new ControlledGroup(gated);
    const processor = flushThenCheckpoint(h.ports({ log: group.logFor('A') }), options({ checkpointEveryBatches: 1000 }));
    await processor.join();
    await group.assign('A', ['0', '1']);

    const polled = processor.poll();
    await waitFor(() => readsStarted > 0);
    let revoked = false;
    const revoking = group.revoke('A', ['1']).then(() => (revoked = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(revoked).toBe(false);

    release();
    expect(await polled).toBe(14);
    await revoking;
    expect(processor.ownedPartitions()).toEqual(['0']);
    const [lastOfPartition1] = (await h.log.read(STREAMS.readings, '1', null, 7)).slice(-1);
    expect(decodeCheckpoint('1', await h.checkpoints.load(GROUP, '1')).position).toBe(lastOfPartition1.position);
    // Partition 0 was not revoked and not due: its state stays in memory only.
    expect(await h.checkpoints.load(GROUP, '0')).toBeNull();
    await h.close();
  });

  it('rolls back a poll whose append failed and emits the same outputs again from the checkpoint', async () => {
    const h = harness(temp.dir, 'rollback');
    await h.log.append(STREAMS.readings, records(input()));
    const faulty = new FaultyStreamLog(h.log);
    const processor = flushThenCheckpoint(h.ports({ log: faulty }), options({ checkpointEveryBatches: 2 }));
    await processor.join();
    for (let i = 0; i < 3; i++) await processor.poll();
    const checkpointed = decodeCheckpoint('0', await h.checkpoints.load(GROUP, '0')).position;

    faulty.failAppendsAfter(0);
    await expect(drain(processor)).rejects.toThrow(InjectedFault);
    expect(processor.counters.rollbacks).toBe(1);
    expect(decodeCheckpoint('0', await h.checkpoints.load(GROUP, '0')).position).toBe(checkpointed);

    faulty.heal();
    await drain(processor);
    await processor.stop();
    const aggregates = (await streamValues(h.log, STREAMS.aggregates)).map((v) => decodeEnvelope<AggregateEnvelope>(v));
    const ids = aggregates.map((a) => a.id);
    // Poll 3 (after the checkpoint) appended outputs that are appended again: same ids, nothing missing.
    expect(new Set(ids).size).toBe(18);
    expect(ids.length).toBeGreaterThan(18);
    await h.close();
  });

  it('saves no checkpoint while the read model cannot flush, and keeps the loop alive through it', async () => {
    const h = harness(temp.dir, 'flush');
    await h.log.append(STREAMS.readings, records(input()));
    let failFlush = true;
    const buffered = new BufferingReadModel(h.readModel);
    const readModel: ReadModel = Object.create(buffered, {
      flush: { value: () => (failFlush ? Promise.reject(new Error('read model unavailable')) : buffered.flush()) },
    });
    const errors: string[] = [];
    const processor = flushThenCheckpoint(h.ports({ readModel }), options({ checkpointEveryBatches: 1, onError: (err) => errors.push(err.message) }));
    await processor.start();
    await waitFor(() => errors.length >= 3, { what: 'failed polls to be reported' });
    expect(errors[0]).toBe('poll rolled back to the last checkpoint: read model unavailable');
    expect(await h.checkpoints.load(GROUP, '0')).toBeNull();
    expect(await h.checkpoints.load(GROUP, '1')).toBeNull();

    failFlush = false;
    await waitFor(() => processor.counters.readings >= input().length + processor.counters.rollbacks * 14, { what: 'the input after recovery' });
    await processor.stop();
    expect(await h.readModel.readings('L2', { from: T0, to: T0 + 10 * MINUTE }, 1000)).toHaveLength(40);
    expect(decodeCheckpoint('0', await h.checkpoints.load(GROUP, '0')).position).not.toBeNull();
    await h.close();
  });

  it('keeps an accepted reading in the read model when its late redelivery comes in the same poll', async () => {
    const h = harness(temp.dir, 'late');
    const first = readingEnvelope('L2', 'm3', T0 + 5_000, { voltage: 118 });
    const later = [20_000, 40_000, 60_000, 75_000].map((dt) => readingEnvelope('L2', 'm3', T0 + dt, { voltage: 118 }));
    // The watermark (75 s − 10 s) has passed minute 0 when the redelivery of `first` arrives: late.
    await h.log.append(STREAMS.readings, records([first, ...later, first]));
    const processor = flushThenCheckpoint(h.ports(), options({ maxRecordsPerPartition: 100 }));
    await processor.join();
    expect(await processor.poll()).toBe(6);
    expect(processor.counters.late).toBe(1);
    expect((await streamValues(h.log, STREAMS.lateReadings)).map((v) => decodeEnvelope<Envelope>(v).id)).toEqual([first.id]);
    const rows = await h.readModel.readings('L2', { from: T0, to: T0 + MINUTE }, 10);
    expect(rows.map((r) => r.id)).toEqual([first.id, later[0].id, later[1].id]);
    await h.close();
  });

  it('applies dead letters of the partition it carries and keeps their positions in that partition’s checkpoint', async () => {
    const h = harness(temp.dir, 'dead-letters');
    const letters = ['L1', 'L2', 'L1'].map((lineId, i) => deadLetterEnvelope(readingTopic(lineId), Buffer.from(`not json ${i}`), T0 + i));
    await h.log.append(STREAMS.deadLetters, records(letters));
    const processor = flushThenCheckpoint(h.ports(), options());
    await processor.join();
    expect(await processor.poll()).toBe(3);
    await processor.stop();

    expect((await h.readModel.deadLetters(10)).map((d) => d.id).sort()).toEqual(letters.map((l) => l.id).sort());
    // L1 → partition 1 in both streams: its two letters are partition 1's to checkpoint.
    const [, lastL1] = await h.log.read(STREAMS.deadLetters, '1', null, 10);
    expect(decodeCheckpoint('1', await h.checkpoints.load(GROUP, '1')).deadLetters).toEqual({ '1': lastL1.position });
    expect(Object.keys(decodeCheckpoint('0', await h.checkpoints.load(GROUP, '0')).deadLetters)).toEqual(['0']);
    await h.close();
  });

  it('fires a quiet line’s last window once the injected processing time passes the idle timeout after its last arrival', async () => {
    const h = harness(temp.dir, 'idle');
    // One line, one minute of readings: the watermark stops before the window's end.
    await h.log.append(STREAMS.readings, records([0, 15_000, 30_000, 45_000].map((dt) => readingEnvelope('L2', 'm3', T0 + dt, { voltage: 118 }))));
    // Processing time starts at the last reading's ingest time (45 s + 150 ms): the idle timeout
    // counts from the line's last arrival, on the partition's ingest clock.
    let now = T0 + 45_150;
    const processor = flushThenCheckpoint(h.ports(), options({ now: () => now, topology: { ...options().topology, idleTimeoutMs: 30_000 } }));
    await processor.join();
    await drain(processor);
    expect(processor.stats().lineClocks?.L2).toMatchObject({ idle: false, watermark: T0 + 35_000 });
    now += 30_000;
    await processor.poll();
    expect(await streamValues(h.log, STREAMS.aggregates)).toEqual([]);

    // Idle for 25 s past the timeout: the watermark (00:35) moves 25 s on, to the window end (01:00).
    now += 25_000;
    await processor.poll();
    expect(processor.stats().lineClocks?.L2).toMatchObject({ idle: true, watermark: T0 + MINUTE });
    const [aggregate] = (await streamValues(h.log, STREAMS.aggregates)).map((v) => decodeEnvelope<AggregateEnvelope>(v));
    expect(aggregate.body).toMatchObject({ windowStart: T0, count: 4 });
    await h.close();
  });

  it('installs a newer published model between polls and checkpoints it before reading on, so a resumed instance has it', async () => {
    const h = harness(temp.dir, 'model');
    await h.log.append(STREAMS.readings, records(input()));
    let published: VoltageModelVersion | null = null;
    const models = { latest: () => published };
    let now = T0;
    const installed: number[] = [];
    const rules = () => createAlertRules(resolveProcessorOptions(options().topology), 'meterstream');
    const make = () =>
      flushThenCheckpoint(h.ports(), options({ rules, models, onModelInstalled: (v) => installed.push(v), now: () => (now += 1000), checkpointEveryBatches: 100 }));
    const first = make();
    await first.join();
    await first.poll();
    await first.poll();
    expect(await h.checkpoints.load(GROUP, '0')).toBeNull();

    published = { version: 3, createdAt: new Date(T0).toISOString(), trainedOn: { from: T0 - 86_400_000, to: T0 }, lines: {} };
    await first.poll();
    expect(installed).toEqual([3]);
    expect(first.modelVersion).toBe(3);
    // Saved before the third poll read anything: at the 14th record of each partition, with the model.
    for (const partition of ['0', '1']) {
      const saved = decodeCheckpoint(partition, await h.checkpoints.load(GROUP, partition));
      expect(saved.position).toBe((await h.log.read(STREAMS.readings, partition, null, 14))[13].position);
      expect(saved.topology?.rules['voltage-model']).toMatchObject({ modelVersion: 3 });
    }

    // "Crash" after more work; the next instance resumes with the model and does not install it again.
    await first.poll();
    const second = make();
    await second.join();
    expect(second.modelVersion).toBe(3);
    await drain(second);
    expect(installed).toEqual([3]);
    await h.close();
  });

  it('offers a model once to a rule set without a model-based rule, and announces nothing', async () => {
    const h = harness(temp.dir, 'no-model-rule');
    await h.log.append(STREAMS.readings, records(input()));
    const installed: number[] = [];
    let now = T0;
    const model: VoltageModelVersion = { version: 1, createdAt: new Date(T0).toISOString(), trainedOn: { from: T0, to: T0 }, lines: {} };
    const processor = flushThenCheckpoint(
      h.ports(),
      options({ models: { latest: () => model }, onModelInstalled: (v) => installed.push(v), now: () => (now += 1000), checkpointEveryBatches: 100 }),
    );
    await processor.join();
    for (let i = 0; i < 5; i++) await processor.poll();
    expect(installed).toEqual([]);
    expect(processor.modelVersion).toBe(0);
    // One checkpoint for the offer, not one per second.
    expect(processor.counters.checkpoints).toBe(1);
    await h.close();
  });

  it('refuses to take over a partition whose checkpoint it cannot trust, and says why', async () => {
    const h = harness(temp.dir, 'refuse');
    await h.checkpoints.save(GROUP, '1', JSON.stringify({ v: 99, partition: '1' }));
    const errors: string[] = [];
    const processor = flushThenCheckpoint(h.ports(), options({ onError: (err) => errors.push(err.message) }));
    await expect(processor.join()).rejects.toThrow('checkpoint of readings partition 1 has version 99');
    expect(errors).toEqual([expect.stringContaining('could not take over partitions 0, 1')]);
    expect(processor.ownedPartitions()).toEqual([]);
    await h.close();
  });
});
