import * as path from 'node:path';
import { STREAMS } from '@meterstream/contracts';
import { SqliteReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, type AppendRecord, type StreamRecord } from '@meterstream/stream';
import { KafkaCheckpointStore, KafkaStreamLog } from '@meterstream/stream/kafka';
import { assertKafkaReachable, collectingLogger, testBrokers, uniqueTopicPrefix } from '@meterstream/stream/kafka/testing';
import { buildOnce, waitFor } from '@meterstream/test-harness';
import { decodeCheckpoint } from '@meterstream/processing';
import { deduplicate, recordedFixture, type RecordedFixture } from '../../apps/stream-processor/src/runtime/testing/recorded-run';
import { readModelState } from '@meterstream/test-harness';
import { outputStreams } from './testing/output-streams';
import { ProcessorProcess } from './testing/processor-process';

const PARTITIONS = 8;
const ROUNDS = 20;

describe('two stream processors on Kafka', () => {
  let fixture: RecordedFixture;
  const processes: ProcessorProcess[] = [];
  const clients: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    await assertKafkaReachable();
    buildOnce();
    fixture = await recordedFixture();
  }, 180_000);
  afterAll(async () => {
    for (const p of processes) await p.signal('SIGKILL');
    for (const client of clients) await client.close();
    fixture?.cleanup();
  });

  it('split the partitions, and after one is SIGKILLed mid-stream the survivor resumes from its checkpoints: outputs and read model equal a single instance’s', async () => {
    const prefix = uniqueTopicPrefix('scale-out');
    // The group the service names itself on Kafka (processorGroup): the topic prefix + stream-processor.
    const group = `${prefix}stream-processor`;
    // Both instances run on this host with the same DATA_DIR, so they share the SQLite read model in it.
    const dataDir = path.join(fixture.dir, 'kafka-processors');
    const readModelFile = path.join(dataDir, 'meterstream.db');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STREAM_BACKEND: 'kafka',
      DATA_DIR: dataDir,
      KAFKA_BROKERS: testBrokers().join(','),
      KAFKA_TOPIC_PREFIX: prefix,
      STREAM_PARTITIONS: String(PARTITIONS),
      // The input carries its recording's ingest times (2026-03-02) while these processes run on
      // the wall clock, which idle lines follow once a process has caught up (between rounds). With
      // the reference's 24 h every line would count as idle at the first pause and the next
      // round's readings would be late; the reference (its clock at the recording's start) never
      // fires the idle rule, so here it must not either: a timeout longer than the gap.
      IDLE_TIMEOUT_MS: String(10 * 365 * 24 * 3_600_000),
      READING_RETENTION_HOURS: '0.25',
      READ_MODEL_BACKEND: 'sqlite',
      TIMESERIES_BACKEND: 'sqlite',
      // No alert channel: the read model and the alerts stream are what is compared.
      ALERT_CHANNELS: '',
    };
    const log = new KafkaStreamLog({ brokers: testBrokers(), clientId: 'scale-out-test', topicPrefix: prefix, partitions: PARTITIONS, logger: collectingLogger() });
    const checkpoints = new KafkaCheckpointStore({ brokers: testBrokers(), clientId: 'scale-out-test', topic: `${prefix}_checkpoints` });
    clients.push(log, checkpoints);
    // The processes create the read model; the test only reads it at the end.
    await SqliteReadModel.open(readModelFile).close();

    // The recorded input, per partition in log order, fed in 20 rounds of a twentieth of every partition.
    const input = EmbeddedStreamLog.open(fixture.copyInput('kafka-input'), { partitions: PARTITIONS });
    const rounds: AppendRecord[][][] = [];
    const lastOffset: number[] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const records = input.readSync(STREAMS.readings, String(p), null, 1_000_000).map((r) => ({ key: r.key, value: r.value }));
      lastOffset.push(records.length - 1);
      const size = Math.ceil(records.length / ROUNDS);
      for (let round = 0; round < ROUNDS; round++) (rounds[round] ??= [])[p] = records.slice(round * size, (round + 1) * size);
    }
    const totalReadings = lastOffset.reduce((n, last) => n + last + 1, 0);
    /** The position a caught-up checkpoint of partition p holds: its last offset, null for a partition no line maps to. */
    const endOf = (p: number) => (lastOffset[p] < 0 ? null : String(lastOffset[p]));
    const deadLetters: StreamRecord[] = [];
    for (let p = 0; p < PARTITIONS; p++) deadLetters.push(...input.readSync(STREAMS.deadLetters, String(p), null, 1000));
    await input.close();
    await log.append(STREAMS.deadLetters, deadLetters.map((r) => ({ key: r.key, value: r.value })));
    const appendRound = async (round: AppendRecord[][]) => {
      for (const records of round) if (records.length > 0) await log.append(STREAMS.readings, records);
    };
    for (const round of rounds.slice(0, 3)) await appendRound(round);

    const a = new ProcessorProcess('A', env);
    processes.push(a);
    await waitFor(() => a.owns(PARTITIONS), { what: 'A to own every partition', timeoutMs: 60_000 });
    const b = new ProcessorProcess('B', env);
    processes.push(b);
    await waitFor(() => a.owns(PARTITIONS / 2) && b.owns(PARTITIONS / 2), { what: 'A and B to split the partitions', timeoutMs: 60_000 });
    const ownedByA = a.status.owned;

    // Live input; A is killed about halfway, as soon as it has checkpointed some of this round.
    const killAfterRound = Math.floor(rounds.length / 2);
    const savedPositions = async (partitions: readonly string[]) =>
      JSON.stringify(await Promise.all(partitions.map(async (p) => decodeCheckpoint(p, await checkpoints.load(group, p)).position)));
    for (let r = 3; r < rounds.length; r++) {
      const before = r === killAfterRound ? await savedPositions(ownedByA) : undefined;
      await appendRound(rounds[r]);
      if (r === killAfterRound) {
        await waitFor(async () => (await savedPositions(ownedByA)) !== before, { what: 'A to checkpoint', timeoutMs: 30_000, intervalMs: 50 });
        await a.signal('SIGKILL');
        // What A left: a checkpoint of each of its partitions (no line maps to some), short of the input still to come.
        for (const partition of ownedByA.filter((p) => lastOffset[Number(p)] >= 0)) {
          const saved = decodeCheckpoint(partition, await checkpoints.load(group, partition));
          expect(saved.position).not.toBeNull();
          expect(Number(saved.position)).toBeLessThan(lastOffset[Number(partition)]);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await waitFor(() => b.owns(PARTITIONS), { what: 'B to take over A’s partitions', timeoutMs: 60_000 });
    await waitFor(
      async () => {
        const behind: string[] = [];
        for (let p = 0; p < PARTITIONS; p++) {
          const position = decodeCheckpoint(String(p), await checkpoints.load(group, String(p))).position;
          if (position !== endOf(p)) behind.push(`partition ${p} at ${position} of ${lastOffset[p]}`);
        }
        // Thrown, so a timeout says which partitions lag and what B reported.
        if (behind.length > 0) throw new Error(`${behind.join(', ')}; B: ${JSON.stringify(b.status)} ${b.recentOutput().slice(-2000)}`);
        return true;
      },
      { what: 'B to checkpoint the end of every partition', timeoutMs: 120_000, intervalMs: 250 },
    );
    // SIGTERM: B checkpoints, leaves the group and says how much it read.
    await b.signal('SIGTERM');
    expect(b.status.stoppedAfterReadings).not.toBeNull();
    // B resumed A's partitions from A's checkpoints: it never read the whole input itself.
    expect(b.status.stoppedAfterReadings).toBeLessThan(totalReadings);

    const deduplicated = deduplicate(await outputStreams(log, (stream, partition, key) => `${stream}/${partition}/${key}`));
    expect(deduplicated.conflicting).toEqual([]);
    expect(deduplicated.outputs).toEqual(fixture.reference.outputs);
    expect(await readModelState(readModelFile)).toEqual(fixture.reference.readModel);
    const model = SqliteReadModel.open(readModelFile);
    expect(await model.deadLetters(1000)).toEqual(fixture.reference.deadLetters);
    await model.close();
  }, 300_000);
});
