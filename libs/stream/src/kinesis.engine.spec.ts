import {
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { waitFor } from '@meterstream/test-harness';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createHash } from 'node:crypto';
import type { PartitionCheckpointStore } from './checkpoint-store';
import { KINESIS_LIMITS, KinesisStreamLog, readableShards, type KinesisSender, type KinesisStreamLogOptions } from './kinesis';
import type { AppendRecord, StreamRecord } from './stream-log';

/**
 * The Kinesis adapter against kinesalite (start it with `bash scripts/engines/kinesalite.sh`).
 * kinesalite stores every record of a PutRecords request, so per-record failures and throttling
 * are covered by kinesis.spec.ts with a fake Kinesis under the SDK client instead.
 */
const ENDPOINT = process.env.KINESIS_ENDPOINT ?? 'http://127.0.0.1:14567';
// Dummy credentials for kinesalite (it checks that requests are signed, not by whom).
process.env.AWS_ACCESS_KEY_ID = 'kinesalite-test';
process.env.AWS_SECRET_ACCESS_KEY = 'kinesalite-test';
delete process.env.AWS_SESSION_TOKEN;

/** Unique per run: streams of earlier runs (kinesalite's data is durable) never interfere. */
const RUN = `t${Date.now().toString(36)}${process.pid.toString(36)}-`;
let suite = 0;
let admin: KinesisClient;
const logs: KinesisStreamLog[] = [];

function makeLog(options: Partial<KinesisStreamLogOptions> & { streamPrefix: string }): KinesisStreamLog {
  const log = new KinesisStreamLog({
    region: 'us-east-1',
    endpoint: ENDPOINT,
    shards: 1,
    instance: 0,
    instances: 1,
    retry: { baseDelayMs: 20, maxDelayMs: 500 },
    groupPollMs: 100,
    ...options,
  });
  logs.push(log);
  return log;
}

const prefix = () => `${RUN}${++suite}-`;

beforeAll(async () => {
  admin = new KinesisClient({ region: 'us-east-1', endpoint: ENDPOINT, requestHandler: new NodeHttpHandler({ connectionTimeout: 3000 }), maxAttempts: 1 });
  try {
    await admin.send(new ListStreamsCommand({ Limit: 1 }));
  } catch (error) {
    throw new Error(`kinesalite is not reachable at ${ENDPOINT} (${String(error)}); start it with: bash scripts/engines/kinesalite.sh`);
  }
});

afterAll(async () => {
  await Promise.all(logs.map((log) => log.close()));
  // kinesalite keeps its data across restarts: remove this run's streams.
  const names = ((await admin.send(new ListStreamsCommand({ Limit: 10_000 }))).StreamNames ?? []).filter((n) => n.startsWith(RUN));
  for (const name of names) await admin.send(new DeleteStreamCommand({ StreamName: name }));
  admin.destroy();
});

/** Reads one shard from `after` until caught up. */
async function readShard(log: KinesisStreamLog, stream: string, shard: string, after: string | null, max = 100) {
  const out: StreamRecord[] = [];
  let position = after;
  for (;;) {
    const batch = await log.read(stream, shard, position, max);
    if (batch.length === 0) return { records: out, position };
    out.push(...batch);
    position = batch[batch.length - 1].position;
  }
}

function expectPerKeyOrder(consumed: StreamRecord[]) {
  const last = new Map<string, number>();
  for (const r of consumed) {
    const seq = Number(r.value.toString().split(':')[1]);
    expect(seq).toBeGreaterThan(last.get(r.key) ?? -1);
    last.set(r.key, seq);
  }
}

const numbered = (keys: number, perKey: number, from = 0): AppendRecord[] =>
  Array.from({ length: keys * perKey }, (_, i) => {
    const key = `L${String(i % keys).padStart(2, '0')}`;
    return { key, value: Buffer.from(`${key}:${from + Math.floor(i / keys)}`) };
  });

/** Counts the SDK commands the adapter sends. */
function countingClient(): KinesisSender & { counts: Map<string, number>; putSizes: number[] } {
  const real = new KinesisClient({ region: 'us-east-1', endpoint: ENDPOINT, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });
  const counts = new Map<string, number>();
  const putSizes: number[] = [];
  return {
    counts,
    putSizes,
    send(command: object) {
      const name = command.constructor.name.replace(/Command$/, '');
      counts.set(name, (counts.get(name) ?? 0) + 1);
      if (name === 'PutRecords') {
        const records = (command as { input: { Records: { PartitionKey: string; Data: Uint8Array }[] } }).input.Records;
        putSizes.push(records.reduce((sum, r) => sum + r.Data.length + Buffer.byteLength(r.PartitionKey), 0));
      }
      return real.send(command as never);
    },
  };
}

describe('KinesisStreamLog on kinesalite', () => {
  it('round-trips more than 500 records in one append, each once, in per-key order', async () => {
    const client = countingClient();
    const log = makeLog({ streamPrefix: prefix(), shards: 4, client });
    const records = numbered(20, 60); // 1200 records: three PutRecords requests
    await log.append('readings', records);
    expect(client.counts.get('PutRecords')).toBe(3);

    const shards = await log.partitions('readings');
    expect(shards).toHaveLength(4);
    const consumed: StreamRecord[] = [];
    const shardOfKey = new Map<string, string>();
    for (const shard of shards) {
      const { records: got, position } = await readShard(log, 'readings', shard, null, 250);
      for (const r of got) {
        expect(shardOfKey.get(r.key) ?? shard).toBe(shard); // a key lives in one shard
        shardOfKey.set(r.key, shard);
        expect(r.stream).toBe('readings');
        expect(r.partition).toBe(shard);
        expect(r.appendTime).toBeGreaterThan(Date.now() - 60_000);
      }
      expectPerKeyOrder(got);
      consumed.push(...got);
      // Caught up: an empty answer, also when asked again.
      expect(await log.read('readings', shard, position, 10)).toEqual([]);
    }
    expect(consumed.map((r) => r.value.toString()).sort()).toEqual(records.map((r) => r.value.toString()).sort());
    expect(new Set(shardOfKey.values()).size).toBeGreaterThan(1);
  });

  it('splits an append of more than 5 MiB into requests within the limit and reads it back intact', async () => {
    const client = countingClient();
    const log = makeLog({ streamPrefix: prefix(), client });
    const big = Array.from({ length: 12 }, (_, i) => ({ key: `K${i % 2}`, value: Buffer.alloc(KINESIS_LIMITS.bytesPerRecord - 64, i + 1) }));
    await log.append('readings', big);
    expect(client.putSizes.length).toBe(3);
    for (const size of client.putSizes) expect(size).toBeLessThanOrEqual(KINESIS_LIMITS.bytesPerPut);

    const [shard] = await log.partitions('readings');
    const { records } = await readShard(log, 'readings', shard, null, 4);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(records.map((r) => digest(r.value))).toEqual(big.map((r) => digest(r.value)));

    // One record over 1 MiB (with its key): rejected, and nothing of that append stored.
    await expect(
      log.append('readings', [
        { key: 'K0', value: Buffer.from('small') },
        { key: 'K1', value: Buffer.alloc(KINESIS_LIMITS.bytesPerRecord) },
      ]),
    ).rejects.toThrow(/record 1 \(key "K1"\) is 1048578 bytes with its partition key; Kinesis accepts at most 1048576/);
    expect(await log.read('readings', shard, records[records.length - 1].position, 10)).toEqual([]);
  });

  it('resumes exactly after a position, one GetRecords per sequential read, [] when caught up', async () => {
    const client = countingClient();
    const log = makeLog({ streamPrefix: prefix(), client });
    await log.append('readings', numbered(1, 30));
    const [shard] = await log.partitions('readings');
    const values = (rs: StreamRecord[]) => rs.map((r) => r.value.toString());

    const first = await log.read('readings', shard, null, 10);
    expect(values(first)).toEqual(numbered(1, 10).map((r) => r.value.toString()));
    const iteratorsBefore = client.counts.get('GetShardIterator');
    const getsBefore = client.counts.get('GetRecords') ?? 0;
    const second = await log.read('readings', shard, first[9].position, 10);
    expect(values(second)).toEqual(numbered(1, 10, 10).map((r) => r.value.toString()));
    expect(client.counts.get('GetShardIterator')).toBe(iteratorsBefore);
    expect(client.counts.get('GetRecords')).toBe(getsBefore + 1);

    // Not where the last read stopped (a restart from a checkpoint): a new iterator, same exactness.
    const fromFifth = await log.read('readings', shard, first[4].position, 3);
    expect(values(fromFifth)).toEqual(['L00:5', 'L00:6', 'L00:7']);

    const rest = await log.read('readings', shard, second[9].position, 100);
    expect(values(rest)).toEqual(numbered(1, 10, 20).map((r) => r.value.toString()));
    expect(await log.read('readings', shard, rest[9].position, 100)).toEqual([]);
    // A fresh log (a restarted process) resumes from the stored position just as well.
    const restarted = makeLog({ streamPrefix: log.kinesisStreamName('') });
    expect(values(await restarted.read('readings', shard, rest[4].position, 100))).toEqual(values(rest.slice(5)));
  });

  it('creates a stream once when several producers race to use it first', async () => {
    const streamPrefix = prefix();
    const a = makeLog({ streamPrefix, shards: 2 });
    const b = makeLog({ streamPrefix, shards: 2 });
    await Promise.all([a.append('alerts', numbered(2, 5)), b.append('alerts', numbered(2, 5, 5))]);
    const shards = await a.partitions('alerts');
    expect(shards).toHaveLength(2);
    let total = 0;
    for (const shard of shards) total += (await readShard(a, 'alerts', shard, null)).records.length;
    expect(total).toBe(20);
  });

  it('drains parents before children across two splits mid-stream: every record once, per-key order kept', async () => {
    const log = makeLog({ streamPrefix: prefix(), shards: 1 });
    const stream = 'readings';
    const name = log.kinesisStreamName(stream);
    const consumer = new DrainingConsumer(log, stream);
    const expected: AppendRecord[] = [];
    const append = async (batch: AppendRecord[]) => {
      expected.push(...batch);
      await log.append(stream, batch);
    };

    await append(numbered(20, 10, 0));
    await consumer.round(50); // mid-stream: part of shard 0 read before the split
    expect(consumer.consumed).toHaveLength(50);

    await splitShard(name, 'shardId-000000000000'); // -> 1 and 2
    await append(numbered(20, 10, 10));
    expect(await log.isFinished(stream, 'shardId-000000000000', consumer.positions.get('shardId-000000000000') ?? null)).toBe(false);
    await splitShard(name, 'shardId-000000000001'); // -> 3 and 4
    await append(numbered(20, 10, 20));

    expect(await log.partitions(stream)).toEqual([0, 1, 2, 3, 4].map((n) => `shardId-00000000000${n}`));
    expect(await log.parents(stream)).toEqual(
      new Map([
        ['shardId-000000000000', []],
        ['shardId-000000000001', ['shardId-000000000000']],
        ['shardId-000000000002', ['shardId-000000000000']],
        ['shardId-000000000003', ['shardId-000000000001']],
        ['shardId-000000000004', ['shardId-000000000001']],
      ]),
    );
    await waitFor(async () => (await consumer.round()) === 0 && consumer.consumed.length === expected.length, {
      timeoutMs: 60_000,
      what: 'the consumer to read every record',
    });

    const values = consumer.consumed.map((r) => r.value.toString());
    expect(values.length).toBe(expected.length);
    expect(new Set(values).size).toBe(values.length);
    expect([...values].sort()).toEqual(expected.map((r) => r.value.toString()).sort());
    expectPerKeyOrder(consumer.consumed);
    // Each parent was read to its end before any record of its children.
    const lastIndexOf = (shard: string) => consumer.consumed.map((r) => r.partition).lastIndexOf(shard);
    const firstIndexOf = (shard: string) => consumer.consumed.findIndex((r) => r.partition === shard);
    for (const [parent, children] of [
      ['shardId-000000000000', ['shardId-000000000001', 'shardId-000000000002']],
      ['shardId-000000000001', ['shardId-000000000003', 'shardId-000000000004']],
    ] as const) {
      for (const child of children) {
        expect(firstIndexOf(child)).toBeGreaterThan(lastIndexOf(parent));
      }
    }
    expect(consumer.finished).toEqual(new Set(['shardId-000000000000', 'shardId-000000000001']));
  });

  it('joinGroup: instances 0 and 1 of 2 own disjoint, complete halves, and take over children once their parents are drained', async () => {
    const streamPrefix = prefix();
    const store = new MemoryCheckpointStore();
    const members = [0, 1].map((instance) => {
      const log = makeLog({ streamPrefix, shards: 4, instance, instances: 2, positionStore: store });
      return { log, events: [] as string[] };
    });
    const stream = 'readings';
    const memberships = await Promise.all(
      members.map((m) =>
        m.log.joinGroup('processors', stream, {
          assigned: async (p) => void m.events.push(`+${p.join(',')}`),
          revoked: async (p) => void m.events.push(`-${p.join(',')}`),
        }),
      ),
    );
    const shard = (n: number) => `shardId-00000000000${n}`;
    expect(memberships[0].owned()).toEqual([shard(0), shard(2)]);
    expect(memberships[1].owned()).toEqual([shard(1), shard(3)]);
    expect([...memberships[0].owned(), ...memberships[1].owned()].sort()).toEqual(await members[0].log.partitions(stream));

    // Instance 1's shard 1 splits into 4 (instance 0's) and 5 (instance 1's).
    await members[1].log.append(stream, numbered(40, 3));
    await splitShard(members[0].log.kinesisStreamName(stream), shard(1));
    await members[1].log.append(stream, numbered(40, 3, 3));
    await memberships[0].refreshNow();
    await memberships[1].refreshNow();
    // Shard 1 not drained yet: its children wait.
    expect(memberships[0].owned()).toEqual([shard(0), shard(2)]);
    expect(memberships[1].owned()).toEqual([shard(1), shard(3)]);

    // Instance 1 drains shard 1 and commits its last position; the polls (100 ms) do the rest.
    const { records, position } = await readShard(members[1].log, stream, shard(1), null);
    expect(records.length).toBeGreaterThan(0);
    await members[1].log.commit('processors', stream, new Map([[shard(1), position as string]]));
    await waitFor(() => memberships[0].owned().includes(shard(4)) && !memberships[1].owned().includes(shard(1)), {
      timeoutMs: 20_000,
      what: 'children of shard 1 to be assigned',
    });
    await waitFor(() => memberships[1].owned().includes(shard(5)), { timeoutMs: 20_000, what: 'shard 5 on instance 1' });
    expect(memberships[0].owned()).toEqual([shard(0), shard(2), shard(4)]);
    expect(memberships[1].owned()).toEqual([shard(3), shard(5)]);
    expect(members[0].events).toEqual([`+${shard(0)},${shard(2)}`, `+${shard(4)}`]);
    expect(members[1].events).toEqual([`+${shard(1)},${shard(3)}`, `-${shard(1)}`, `+${shard(5)}`]);
    expect(await members[0].log.committed('processors', stream)).toEqual(new Map([[shard(1), position]]));

    await Promise.all(memberships.map((m) => m.leave()));
    expect(members[1].events.at(-1)).toBe(`-${shard(3)},${shard(5)}`);
  });
});

/** A consumer that follows readableShards(): parents drained before children. */
class DrainingConsumer {
  readonly consumed: StreamRecord[] = [];
  readonly positions = new Map<string, string>();
  readonly finished = new Set<string>();

  constructor(
    private readonly log: KinesisStreamLog,
    private readonly stream: string,
  ) {}

  /** Reads the readable shards (up to `limit` records); returns how many records it read. */
  async round(limit = Number.POSITIVE_INFINITY): Promise<number> {
    let read = 0;
    // Newest shards first: only readableShards() keeps children behind their parents.
    for (const shard of readableShards(await this.log.parents(this.stream), this.finished).reverse()) {
      for (;;) {
        const max = Math.min(37, limit - read);
        if (max <= 0) return read;
        const batch = await this.log.read(this.stream, shard, this.positions.get(shard) ?? null, max);
        if (batch.length === 0) break;
        this.consumed.push(...batch);
        this.positions.set(shard, batch[batch.length - 1].position);
        read += batch.length;
      }
      if (await this.log.isFinished(this.stream, shard, this.positions.get(shard) ?? null)) this.finished.add(shard);
    }
    return read;
  }
}

class MemoryCheckpointStore implements PartitionCheckpointStore {
  private readonly saved = new Map<string, string>();
  async load(group: string, partition: string) {
    return this.saved.get(`${group}\0${partition}`) ?? null;
  }
  async save(group: string, partition: string, checkpoint: string) {
    this.saved.set(`${group}\0${partition}`, checkpoint);
  }
  async close() {}
}

/** Splits a shard at the middle of its hash range and waits until the stream is ACTIVE again. */
async function splitShard(streamName: string, shardId: string): Promise<void> {
  const shards = (await admin.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  const range = shards.find((s) => s.ShardId === shardId)?.HashKeyRange;
  if (!range?.StartingHashKey || !range.EndingHashKey) throw new Error(`no shard ${shardId} in ${streamName}`);
  const middle = (BigInt(range.StartingHashKey) + BigInt(range.EndingHashKey)) / 2n;
  await admin.send(new SplitShardCommand({ StreamName: streamName, ShardToSplit: shardId, NewStartingHashKey: middle.toString() }));
  await waitFor(
    async () => {
      const summary = await admin.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
      return summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
    },
    { timeoutMs: 10_000, what: `${streamName} to be ACTIVE after splitting ${shardId}` },
  );
}
