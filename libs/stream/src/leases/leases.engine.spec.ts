import { randomUUID } from 'node:crypto';
import { DynamoCheckpointStore, DYNAMODB_CHECKPOINT_LIMITS } from '../dynamodb-checkpoint-store';
import type { GroupListener } from '../stream-log';
import type { LeaseCoordinator, ListedShard, ShardSource } from './lease-coordinator';
import { LeaseManager } from './lease-manager';
import { LeaseLostError } from './lease-table';

/**
 * The lease state machine against moto's DynamoDB (scripts/engines/moto.sh): conditional writes,
 * transactions and consistent reads as DynamoDB answers them — no DynamoDB mock. The shard
 * listing is a fixed list here (the Kinesis side is covered by the kinesalite suites).
 */
const MOTO_ENDPOINT = process.env.MOTO_ENDPOINT ?? 'http://127.0.0.1:15000';
const TABLE = `leases-spec-${randomUUID().slice(0, 8)}`;
const TIMINGS = { leaseDurationMs: 1500, renewIntervalMs: 300, takeIntervalMs: 300 };
const id = (n: number) => `shardId-${String(n).padStart(12, '0')}`;

process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;

function manager(workerId: string): LeaseManager {
  return new LeaseManager({ ...TIMINGS, workerId, table: { tableName: TABLE, region: 'us-east-1', endpoint: MOTO_ENDPOINT, createIfMissing: true, maxAttempts: 2 }, logger: { warn: () => undefined } });
}

function staticShards(shards: ListedShard[], finishedAt: (shardId: string) => string | undefined = () => undefined): ShardSource {
  return { list: async () => shards, isFinished: async (shardId, after) => after !== null && after === finishedAt(shardId) };
}

/** Every assignment and revocation of every worker, in the order they happened. */
class Events {
  readonly log: { worker: string; kind: 'assigned' | 'revoked'; shard: string }[] = [];
  listener(worker: string, onRevoked?: (shards: string[]) => Promise<void>): GroupListener {
    return {
      assigned: async (shards) => void shards.forEach((shard) => this.log.push({ worker, kind: 'assigned', shard })),
      revoked: async (shards) => {
        await onRevoked?.(shards);
        shards.forEach((shard) => this.log.push({ worker, kind: 'revoked', shard }));
      },
    };
  }
  /** For every shard: nobody is assigned it while another still has it (revoked comes first). */
  expectNoOverlap(): void {
    const holder = new Map<string, string>();
    for (const e of this.log) {
      if (e.kind === 'assigned') {
        expect({ shard: e.shard, heldBy: holder.get(e.shard) }).toEqual({ shard: e.shard, heldBy: undefined });
        holder.set(e.shard, e.worker);
      } else {
        expect(holder.get(e.shard)).toBe(e.worker);
        holder.delete(e.shard);
      }
    }
  }
}

async function eventually(what: string, check: () => boolean | Promise<boolean>, budgetMs = 60_000): Promise<void> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('Kinesis leases on DynamoDB (moto)', () => {
  const managers: LeaseManager[] = [];
  const open = (worker: string) => {
    const m = manager(worker);
    managers.push(m);
    return m;
  };

  beforeAll(async () => {
    try {
      await manager('probe').table.ensureReady();
    } catch (err) {
      throw new Error(`moto's DynamoDB is not reachable at ${MOTO_ENDPOINT} (${(err as Error).message}); start it with: bash scripts/engines/moto.sh (or set MOTO_ENDPOINT)`);
    }
  });

  afterAll(() => {
    for (const m of managers) m.close();
  });

  it('spreads 8 shards evenly as workers join, handing a stolen shard over only after its owner revoked it', async () => {
    const group = `g-${randomUUID().slice(0, 6)}`;
    const shards = staticShards(Array.from({ length: 8 }, (_, i) => ({ id: id(i), parents: [], closed: false })));
    const events = new Events();
    const a = await open('a').join(group, 'readings', shards, events.listener('a'));
    await eventually('a owns all 8', () => a.owned().length === 8);
    const b = await open('b').join(group, 'readings', shards, events.listener('b'));
    await eventually('a and b own 4 each', () => a.owned().length === 4 && b.owned().length === 4);
    const c = await open('c').join(group, 'readings', shards, events.listener('c'));
    const members = [a, b, c];
    await eventually('3,3,2', () => sortedCounts(members).join() === '2,3,3');
    const all = members.flatMap((m) => m.owned()).sort();
    expect(all).toEqual(Array.from({ length: 8 }, (_, i) => id(i)));
    events.expectNoOverlap();
    await Promise.all(members.map((m) => m.leave()));
  });

  it('a worker that stops renewing loses its shards to the others after the lease duration, and its fenced writes are refused', async () => {
    const group = `g-${randomUUID().slice(0, 6)}`;
    const shards = staticShards(Array.from({ length: 4 }, (_, i) => ({ id: id(i), parents: [], closed: false })));
    const events = new Events();
    const zombieManager = open('zombie');
    const zombie = await zombieManager.join(group, 'readings', shards, events.listener('zombie'));
    await eventually('zombie owns all 4', () => zombie.owned().length === 4);
    await zombieManager.commit(group, 'readings', new Map([[id(0), '100']]));

    // A long pause: no renewals any more, but the zombie still believes it holds its leases.
    zombie.stop();
    const survivorManager = open('survivor');
    const survivor = await survivorManager.join(group, 'readings', shards, events.listener('survivor'));
    const pausedAt = Date.now();
    await eventually('survivor takes all 4', () => survivor.owned().length === 4);
    expect(Date.now() - pausedAt).toBeGreaterThanOrEqual(TIMINGS.leaseDurationMs);
    await survivorManager.commit(group, 'readings', new Map([[id(0), '200']]));

    // The zombie wakes up and writes: every write conditional on its old counter is refused.
    await expect(zombieManager.commit(group, 'readings', new Map([[id(0), '150']]))).rejects.toBeInstanceOf(LeaseLostError);
    const store = new DynamoCheckpointStore(zombieManager);
    await expect(store.save(group, id(0), '{"stale":true}')).rejects.toBeInstanceOf(LeaseLostError);
    expect((await survivorManager.committed(group, 'readings')).get(id(0))).toBe('200');
    await survivor.leave();
  });

  it('a failed renewal (another worker took the lease) revokes the shard at once', async () => {
    const group = `g-${randomUUID().slice(0, 6)}`;
    const shards = staticShards([{ id: id(0), parents: [], closed: false }]);
    const events = new Events();
    const holderManager = open('holder');
    const holder = await holderManager.join(group, 'readings', shards, events.listener('holder'));
    await eventually('holder owns the shard', () => holder.owned().length === 1);
    const [lease] = await holderManager.table.list(LeaseManager.leaseGroup(group, 'readings'));
    // Another worker's conditional take with the counter it observed (as after an expiry it measured).
    await open('thief').table.take(lease.leaseGroup, lease.shardId, lease.counter, 'thief');
    await eventually('holder revoked the shard', () => events.log.some((e) => e.worker === 'holder' && e.kind === 'revoked'));
    expect(holder.owned()).toEqual([]);
    holder.stop();
  });

  it('leases a child shard only after its parents are checkpointed to their end, then releases the drained parents', async () => {
    const group = `g-${randomUUID().slice(0, 6)}`;
    // 0 and 1 merged into 2.
    const listed = [
      { id: id(0), parents: [], closed: true },
      { id: id(1), parents: [], closed: true },
      { id: id(2), parents: [id(0), id(1)], closed: false },
    ];
    const shards = staticShards(listed, (shard) => (shard === id(2) ? undefined : 'END'));
    const events = new Events();
    const m = open('solo');
    const member = await m.join(group, 'readings', shards, events.listener('solo'));
    await eventually('the parents are assigned', () => member.owned().join() === [id(0), id(1)].join());
    await m.commit(group, 'readings', new Map([[id(0), 'END']]));
    await new Promise((resolve) => setTimeout(resolve, 3 * TIMINGS.takeIntervalMs));
    expect(member.owned()).toEqual([id(1)]); // 0 drained and released; 2 still waits for 1
    await m.commit(group, 'readings', new Map([[id(1), 'END']]));
    await eventually('the child is assigned', () => member.owned().join() === id(2));
    expect(events.log.map((e) => `${e.kind} ${e.shard}`)).toEqual([`assigned ${id(0)}`, `assigned ${id(1)}`, `revoked ${id(0)}`, `revoked ${id(1)}`, `assigned ${id(2)}`]);
    const leases = await m.table.list(LeaseManager.leaseGroup(group, 'readings'));
    expect(leases.filter((l) => l.shardId !== id(2)).map((l) => l.owner)).toEqual([undefined, undefined]);
    await member.leave();
  });

  it('checkpoints: a large one round-trips in chunks, fenced by the lease; it needs the lease to save', async () => {
    const group = `g-${randomUUID().slice(0, 6)}`;
    const shards = staticShards([{ id: id(0), parents: [], closed: false }]);
    const m = open('saver');
    const store = new DynamoCheckpointStore(m);
    await expect(store.save(group, id(0), '{}')).rejects.toBeInstanceOf(LeaseLostError); // not joined yet
    const member = await m.join(group, 'readings', shards, new Events().listener('saver'));
    await eventually('owns the shard', () => member.owned().length === 1);
    expect(await store.load(group, id(0))).toBeNull();
    // Poorly compressible text well above one chunk: several items in one transaction.
    const big = JSON.stringify({ noise: Array.from({ length: 40_000 }, () => randomUUID()) });
    await store.save(group, id(0), big);
    expect(await store.load(group, id(0))).toBe(big);
    const header = await m.table.get(`${group}#checkpoint`, id(0));
    expect(Number(header?.chunks)).toBeGreaterThan(1);
    expect(Number(header?.chunks)).toBeLessThanOrEqual(DYNAMODB_CHECKPOINT_LIMITS.maxChunks);
    // A newer, shorter one replaces it.
    await store.save(group, id(0), '{"small":true}');
    expect(await store.load(group, id(0))).toBe('{"small":true}');
    await member.leave();
    await expect(store.save(group, id(0), '{}')).rejects.toBeInstanceOf(LeaseLostError);
  });
});

function sortedCounts(members: LeaseCoordinator[]): number[] {
  return members.map((m) => m.owned().length).sort((x, y) => x - y);
}
