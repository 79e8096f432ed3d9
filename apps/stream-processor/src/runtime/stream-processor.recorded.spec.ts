import * as path from 'node:path';
import { STREAMS, type ReadingEnvelope } from '@meterstream/contracts';
import { SqliteReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, type StreamLog, SqliteCheckpointStore } from '@meterstream/stream';
import { seededRandom, START, waitFor } from '@meterstream/test-harness';
import { decodeCheckpoint } from '@meterstream/processing';
import { createStreamProcessor, type StreamProcessorDeps, type StreamProcessorTuning } from './create-stream-processor';
import type { FlushThenCheckpointPorts } from './commit/flush-then-checkpoint';
import { ControlledGroup } from './testing/controlled-group';
import { FaultyCheckpointStore, FaultyStreamLog, InjectedFault } from './testing/faults';
import { acceptedReadingIds, deduplicate, recordedFixture, runResult, type RecordedFixture, type RunResult } from './testing/recorded-run';
import { BufferingReadModel, BufferingTimeSeries } from './testing/volatile-sinks';

const ALL = ['0', '1', '2', '3', '4', '5', '6', '7'];
/** Small batches and frequent checkpoints: many polls, and crashes land between checkpoints. */
const TUNING: Partial<StreamProcessorTuning> = { maxRecordsPerPartition: 200, checkpointEveryBatches: 4, idlePollMs: 5, errorBackoffMs: 5 };

/**
 * The processor as a process on a distributed backend would build it (its own read-model and
 * time-series buffers) over shared systems, on the reference run's clock (recordedFixture pins it
 * to START).
 */
function processor(fixture: RecordedFixture, ports: FlushThenCheckpointPorts, deps: Omit<StreamProcessorDeps, 'now'> = {}) {
  return createStreamProcessor(fixture.config, ports, { ...deps, now: () => START }, TUNING);
}

function expectSameEffects(got: RunResult, timeSeries: Map<string, ReadingEnvelope>, want: RunResult, inputFile: string): void {
  expect(got.readModel).toEqual(want.readModel);
  expect(got.deadLetters).toEqual(want.deadLetters);
  expect(new Set(timeSeries.keys())).toEqual(acceptedReadingIds(inputFile, want.outputs));
}

describe('StreamProcessor with the flush-then-checkpoint commit on the recorded input', () => {
  let fixture: RecordedFixture;
  beforeAll(async () => {
    fixture = await recordedFixture();
  }, 120_000);
  afterAll(() => fixture?.cleanup());

  it('the reference run is a meaningful one: aggregates and alerts on many keys, dead letters, pruned readings', () => {
    const { outputs, readModel, deadLetters } = fixture.reference;
    expect(Object.keys(outputs).filter((k) => k.startsWith(`${STREAMS.aggregates}/`)).length).toBe(20);
    expect(Object.keys(outputs).some((k) => k.startsWith(`${STREAMS.alerts}/`))).toBe(true);
    expect(deadLetters).toHaveLength(40);
    // 60 minutes of 500 meters every 15 s, 15 of them kept: retention really pruned.
    expect(readModel.readingCount).toBeGreaterThan(20_000);
    expect(readModel.readingCount).toBeLessThan(60_000);
  });

  it('produces, through the async port, exactly the outputs and read model of the embedded transaction commit', async () => {
    const file = fixture.copyInput('straight');
    const log = EmbeddedStreamLog.open(file, { partitions: 8, synchronous: 'normal' });
    const checkpoints = SqliteCheckpointStore.open(path.join(path.dirname(file), 'checkpoints.db'));
    const timeSeries = new BufferingTimeSeries();
    const distributed = processor(fixture, { log, readModel: new SqliteReadModel(log.db), checkpoints, timeSeries });
    const inputRecords = log.countSync(STREAMS.readings) + log.countSync(STREAMS.deadLetters);

    await distributed.start();
    expect(distributed.ownedPartitions()).toEqual(ALL);
    await waitFor(() => distributed.counters.readings + distributed.counters.deadLetters >= inputRecords, { what: 'the input to be processed', timeoutMs: 60_000 });
    await distributed.stop();
    await checkpoints.close();
    await log.close();

    const result = await runResult(file);
    // Uninterrupted, nothing is emitted twice: the raw streams equal the embedded transaction commit's.
    expect(result.outputs).toEqual(fixture.reference.outputs);
    expectSameEffects(result, timeSeries.durable, fixture.reference, file);
    expect(distributed.counters.checkpoints).toBeGreaterThan(5);
    expect(distributed.counters.rollbacks).toBe(0);
  });

  it('after crashes at random points (between polls, mid-write, mid-checkpoint) ends with the outputs and read model of an uninterrupted run', async () => {
    const file = fixture.copyInput('crashed');
    const log = EmbeddedStreamLog.open(file, { partitions: 8, synchronous: 'normal' });
    const durableModel = new SqliteReadModel(log.db);
    const store = SqliteCheckpointStore.open(path.join(path.dirname(file), 'checkpoints.db'));
    const faultyLog = new FaultyStreamLog(log);
    const faultyStore = new FaultyCheckpointStore(store);
    const durableSeries = new Map<string, ReadingEnvelope>();
    const totalReadings = log.countSync(STREAMS.readings);
    const random = seededRandom(20261129);
    const crashes: string[] = [];

    const kinds = ['between polls', 'mid-write', 'mid-checkpoint', 'rolled back, then between polls'] as const;
    for (let life = 0; ; life++) {
      faultyLog.heal();
      faultyStore.heal();
      const readModel = new BufferingReadModel(durableModel);
      const timeSeries = new BufferingTimeSeries(durableSeries);
      const instance = processor(fixture, { log: faultyLog, readModel, checkpoints: faultyStore, timeSeries });
      await instance.join();
      if (life === 8) {
        while ((await instance.poll()) > 0);
        await instance.stop();
        // It resumed from the last checkpoints: it did not need to read everything again.
        expect(instance.counters.readings).toBeLessThan(totalReadings);
        break;
      }
      const kind = kinds[life % kinds.length];
      const polls = 2 + Math.floor(random() * 10);
      for (let i = 0; i < polls; i++) await instance.poll();
      if (kind === 'mid-write' || kind === 'mid-checkpoint' || kind === 'rolled back, then between polls') {
        if (kind === 'mid-checkpoint') faultyStore.failSavesAfter(3);
        else faultyLog.failAppendsAfter(kind === 'mid-write' ? 1 : 0);
        await expect(pollUntilItFails(instance)).rejects.toThrow(InjectedFault);
      }
      if (kind === 'rolled back, then between polls') {
        // The same instance carries on from its checkpoints after the failed write.
        faultyLog.heal();
        expect(instance.counters.rollbacks).toBe(1);
        for (let i = 0; i < 3; i++) await instance.poll();
      }
      // The process dies: its buffers are gone, nothing is checkpointed on the way out.
      readModel.crash();
      timeSeries.crash();
      crashes.push(kind);
    }
    await store.close();
    await log.close();

    expect(crashes).toHaveLength(8);
    expect(faultyStore.saves).toBeGreaterThan(8);
    const result = await runResult(file);
    const deduplicated = deduplicate(result.outputs);
    // Work after the last checkpoints was redone and emitted again: identical copies, same ids.
    expect(deduplicated.repeats).toBeGreaterThan(0);
    expect(deduplicated.conflicting).toEqual([]);
    expect(deduplicated.outputs).toEqual(fixture.reference.outputs);
    expectSameEffects(result, durableSeries, fixture.reference, file);
  });

  it('moves partitions between two members, also from a member that died past its last checkpoint, and ends with a single run’s outputs', async () => {
    const file = fixture.copyInput('group');
    const log = EmbeddedStreamLog.open(file, { partitions: 8, synchronous: 'normal' });
    const durableModel = new SqliteReadModel(log.db);
    const checkpointFile = path.join(path.dirname(file), 'checkpoints.db');
    const group = new ControlledGroup(log);
    const durableSeries = new Map<string, ReadingEnvelope>();
    // Each member as its own process would be: its own store handle and sink buffers over shared systems.
    const member = (name: string, memberLog: StreamLog) => {
      const checkpoints = SqliteCheckpointStore.open(checkpointFile);
      const readModel = new BufferingReadModel(durableModel);
      const timeSeries = new BufferingTimeSeries(durableSeries);
      return { name, checkpoints, readModel, timeSeries, processor: processor(fixture, { log: memberLog, readModel, checkpoints, timeSeries }) };
    };
    const a = member('A', group.logFor('A'));
    const b = member('B', group.logFor('B'));
    const saved = async (partition: string) => decodeCheckpoint(partition, await a.checkpoints.load('stream-processor', partition));
    const firstReadAfter = (name: string, partition: string, from = 0) =>
      group.readsOf(name).slice(from).find((r) => r.stream === STREAMS.readings && r.partition === partition)?.after;

    await a.processor.join();
    await b.processor.join();
    await group.assign('A', ['0', '1', '2', '3']);
    await group.assign('B', ['4', '5', '6', '7']);
    expect(a.processor.ownedPartitions()).toEqual(['0', '1', '2', '3']);
    for (let i = 0; i < 6; i++) {
      await a.processor.poll();
      await b.processor.poll();
    }

    // A rebalance: A checkpoints 2 and 3 as they are taken away, B continues from exactly there.
    const lastReadOfA = group.readsOf('A').filter((r) => r.stream === STREAMS.readings && r.partition === '2').pop()!;
    const processedByA = (await log.read(STREAMS.readings, '2', lastReadOfA.after, TUNING.maxRecordsPerPartition!)).pop()!.position;
    await group.revoke('A', ['2', '3']);
    const handedOver = await saved('2');
    expect(handedOver.position).toBe(processedByA);
    const readsBefore = group.readsOf('B').length;
    await group.assign('B', ['2', '3']);
    for (let i = 0; i < 3; i++) {
      await a.processor.poll();
      await b.processor.poll();
    }
    expect(firstReadAfter('B', '2', readsBefore)).toBe(handedOver.position);
    expect(a.processor.ownedPartitions()).toEqual(['0', '1']);

    // A works on past its last checkpoint, emitting outputs it never checkpoints, then dies.
    let checkpointsSeen = a.processor.counters.checkpoints;
    let aggregatesAtCheckpoint = a.processor.counters.aggregates;
    for (let i = 0; i < 50; i++) {
      await a.processor.poll();
      if (a.processor.counters.checkpoints !== checkpointsSeen) {
        checkpointsSeen = a.processor.counters.checkpoints;
        aggregatesAtCheckpoint = a.processor.counters.aggregates;
      } else if (a.processor.counters.aggregates > aggregatesAtCheckpoint) break;
    }
    expect(a.processor.counters.aggregates).toBeGreaterThan(aggregatesAtCheckpoint);
    a.readModel.crash();
    a.timeSeries.crash();
    const orphaned = group.kill('A');
    expect(orphaned).toEqual(['0', '1']);
    const lastSaved = await saved('0');
    expect(lastSaved.position).not.toBeNull();
    await expect(a.processor.poll()).rejects.toThrow('member A is dead');

    const readsAtTakeover = group.readsOf('B').length;
    await group.assign('B', orphaned);
    while ((await b.processor.poll()) > 0);
    // B resumed from A's last checkpoint, not from the start of the partition.
    expect(firstReadAfter('B', '0', readsAtTakeover)).toBe(lastSaved.position);
    await b.processor.stop();
    await a.checkpoints.close();
    await b.checkpoints.close();
    await log.close();

    const result = await runResult(file);
    const deduplicated = deduplicate(result.outputs);
    expect(deduplicated.repeats).toBeGreaterThan(0);
    expect(deduplicated.conflicting).toEqual([]);
    expect(deduplicated.outputs).toEqual(fixture.reference.outputs);
    expectSameEffects(result, durableSeries, fixture.reference, file);
  });
});

/** Polls until a poll rejects (an injected fault fires); fails the test if none does within 100 polls. */
async function pollUntilItFails(instance: { poll(): Promise<number> }): Promise<void> {
  for (let i = 0; i < 100; i++) await instance.poll();
  throw new Error('no poll failed');
}
