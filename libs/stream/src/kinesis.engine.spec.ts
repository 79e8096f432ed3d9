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
import { KINESIS_LIMITS, KinesisStreamLog, LeaseManager, readableShards, type KinesisSender, type KinesisStreamLogOptions } from './kinesis';
import type { AppendRecord, StreamRecord } from './stream-log';

/**
 * The Kinesis adapter against kinesalite (start it with `bash scripts/engines/kinesalite.sh`), its
 * group leases in DynamoDB on moto (`bash scripts/engines/moto.sh`).
 * kinesalite stores every record of a PutRecords request, so per-record failures and throttling
 * are covered by kinesis.spec.ts with a fake Kinesis under the SDK client instead.
 */
const ENDPOINT = process.env.KINESIS_ENDPOINT ?? 'http://127.0.0.1:14567';
const MOTO_ENDPOINT = process.env.MOTO_ENDPOINT ?? 'http://127.0.0.1:15000';
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
    leases: new LeaseManager({
      table: { tableName: `${RUN}leases`, region: 'us-east-1', endpoint: MOTO_ENDPOINT, createIfMissing: true },
      leaseDurationMs: 1500,
      renewIntervalMs: 300,
      takeIntervalMs: 200,
      logger: { warn: () => undefined },
    }),
    ownsLeases: true,
    retry: { baseDelayMs: 20, maxDelayMs: 500 },
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

  it('joinGroup (leases on moto): two members split 4 shards, and the children of a split shard are leased only once the group committed its end', async () => {
    const streamPrefix = prefix();
    const members = [0, 1].map(() => makeLog({ streamPrefix, shards: 4 }));
    /** Both members' assignments and revocations, in the order they happened. */
    const events: string[] = [];
    const stream = 'readings';
    const shard = (n: number) => `shardId-00000000000${n}`;
    const join = (i: number) =>
      members[i].joinGroup('processors', stream, {
        assigned: async (p) => void events.push(...p.map((s) => `${i}+${s}`)),
        revoked: async (p) => void events.push(...p.map((s) => `${i}-${s}`)),
      });
    const first = await join(0);
    await waitFor(() => first.owned().length === 4, { timeoutMs: 30_000, what: 'the first member to lease every shard' });
    const second = await join(1);
    const memberships = [first, second];
    await waitFor(() => first.owned().length === 2 && second.owned().length === 2, { timeoutMs: 30_000, what: 'an even split' });
    expect([...first.owned(), ...second.owned()].sort()).toEqual(await members[0].partitions(stream));

    // Shard 1 splits into 4 and 5.
    const ownerOf1 = memberships.findIndex((m) => m.owned().includes(shard(1)));
    const owner = members[ownerOf1];
    await owner.append(stream, numbered(40, 3));
    await splitShard(owner.kinesisStreamName(stream), shard(1));
    await owner.append(stream, numbered(40, 3, 3));
    // Rounds run every 200 ms: a few seconds in, shard 1 is not drained, so nobody holds its children.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const owned = () => memberships.flatMap((m) => m.owned());
    expect(owned()).not.toContain(shard(4));
    expect(owned()).not.toContain(shard(5));
    expect(owned()).toContain(shard(1));

    // The owner drains shard 1 and commits its last position (fenced by its lease).
    const { records, position } = await readShard(owner, stream, shard(1), null);
    expect(records.length).toBeGreaterThan(0);
    await owner.commit('processors', stream, new Map([[shard(1), position as string]]));
    await waitFor(() => owned().includes(shard(4)) && owned().includes(shard(5)) && !owned().includes(shard(1)), {
      timeoutMs: 30_000,
      what: 'children of shard 1 leased, shard 1 given back',
    });
    expect(owned().sort()).toEqual([shard(0), shard(2), shard(3), shard(4), shard(5)]);
    // Shard 1 was revoked before either child was assigned to anyone.
    const revoked1 = events.indexOf(`${ownerOf1}-${shard(1)}`);
    expect(revoked1).toBeGreaterThanOrEqual(0);
    for (const child of [shard(4), shard(5)]) expect(events.findIndex((e) => e.endsWith(`+${child}`))).toBeGreaterThan(revoked1);
    expect((await members[0].committed('processors', stream)).get(shard(1))).toBe(position);
    // A member cannot move the position of a shard it does not hold.
    const notHeld = memberships[1 - ownerOf1].owned()[0];
    await expect(owner.commit('processors', stream, new Map([[notHeld, '1']]))).rejects.toThrow(/no longer held/);

    await Promise.all(memberships.map((m) => m.leave()));
    expect(owned()).toEqual([]);
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
