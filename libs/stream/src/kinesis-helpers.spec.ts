import { PolledMembership } from './kinesis/polled-membership';
import { splitIntoPutBatches, type PutEntry } from './kinesis/put-batches';
import { orderParentsFirst, readableShards, shardsOwnedBy, type ShardLineage } from './kinesis/shard-lineage';

const id = (n: number) => `shardId-${String(n).padStart(12, '0')}`;

/** 0 and 1 original; 0 split into 2 and 3; 3 and 1 merged into 4. */
const lineage: ShardLineage = new Map([
  [id(4), [id(3), id(1)]],
  [id(0), []],
  [id(2), [id(0)]],
  [id(1), []],
  [id(3), [id(0)]],
]);

describe('shard lineage', () => {
  it('orders parents before children', () => {
    expect(orderParentsFirst(lineage)).toEqual([id(0), id(1), id(2), id(3), id(4)]);
    // Even when a listing gives a child a lower id than its parent.
    expect(orderParentsFirst(new Map([['a', ['b']], ['b', []]]))).toEqual(['b', 'a']);
  });

  it('lets a child be read only after all its parents are finished', () => {
    expect(readableShards(lineage, new Set())).toEqual([id(0), id(1)]);
    expect(readableShards(lineage, new Set([id(0)]))).toEqual([id(1), id(2), id(3)]);
    // The merge child waits for both parents.
    expect(readableShards(lineage, new Set([id(0), id(1)]))).toEqual([id(2), id(3)]);
    expect(readableShards(lineage, new Set([id(0), id(1), id(3)]))).toEqual([id(2), id(4)]);
  });

  it('holds a grandchild back while a grandparent is unfinished, even if the parent between is (empty and) finished', () => {
    const chain: ShardLineage = new Map([
      [id(0), []],
      [id(1), [id(0)]],
      [id(2), [id(1)]],
    ]);
    expect(readableShards(chain, new Set([id(1)]))).toEqual([id(0)]);
    expect(readableShards(chain, new Set([id(0), id(1)]))).toEqual([id(2)]);
  });

  it('treats a parent no longer listed (expired) as finished', () => {
    expect(readableShards(new Map([[id(7), [id(3)]]]), new Set())).toEqual([id(7)]);
  });

  it('spreads shards over instances by shard number: disjoint, complete, stable when old shards drop out', () => {
    const all = orderParentsFirst(lineage);
    const owned = [0, 1, 2].map((i) => shardsOwnedBy(all, i, 3));
    expect(owned).toEqual([[id(0), id(3)], [id(1), id(4)], [id(2)]]);
    expect(owned.flat().sort()).toEqual([...all].sort());
    // Shards 0 and 1 expired from the listing: nobody's remaining shards change hands.
    expect(shardsOwnedBy([id(2), id(3), id(4)], 0, 3)).toEqual([id(3)]);
    expect(shardsOwnedBy([id(2), id(3), id(4)], 1, 3)).toEqual([id(4)]);
  });
});

describe('splitIntoPutBatches', () => {
  const entry = (size: number): PutEntry => ({ key: 'k', data: new Uint8Array(size - 1), size });

  it('cuts at the record count and at the byte limit, keeping order and never an empty batch', () => {
    const limits = { recordsPerPut: 3, bytesPerPut: 10 };
    const sizes = (batches: PutEntry[][]) => batches.map((b) => b.map((e) => e.size));
    expect(sizes(splitIntoPutBatches([1, 1, 1, 1].map(entry), limits))).toEqual([[1, 1, 1], [1]]);
    expect(sizes(splitIntoPutBatches([4, 6, 1, 9, 10, 2].map(entry), limits))).toEqual([[4, 6], [1, 9], [10], [2]]);
    expect(splitIntoPutBatches([], limits)).toEqual([]);
  });
});

describe('PolledMembership', () => {
  function recorder() {
    const events: string[] = [];
    return {
      events,
      listener: {
        assigned: async (p: string[]) => void events.push(`assigned ${p.join(',')}`),
        revoked: async (p: string[]) => void events.push(`revoked ${p.join(',')}`),
      },
    };
  }

  it('reports the difference of each evaluation: revoked first, then assigned; leave revokes the rest', async () => {
    const answers = [['a', 'b'], ['b', 'c', 'd'], ['b', 'c', 'd']];
    const { events, listener } = recorder();
    const membership = new PolledMembership(async () => answers.shift() ?? [], listener, 60_000, (e) => {
      throw e;
    });
    await membership.start();
    expect(membership.owned()).toEqual(['a', 'b']);
    await membership.refreshNow();
    expect(membership.owned()).toEqual(['b', 'c', 'd']);
    await membership.refreshNow();
    await membership.leave();
    expect(membership.owned()).toEqual([]);
    expect(events).toEqual(['assigned a,b', 'revoked a', 'assigned c,d', 'revoked b,c,d']);
  });

  it('polls on its own, never overlaps evaluations, and retries a failed one', async () => {
    let running = 0;
    let overlapped = false;
    let calls = 0;
    const errors: unknown[] = [];
    const { listener } = recorder();
    const membership = new PolledMembership(
      async () => {
        overlapped ||= running > 0;
        running++;
        calls++;
        await new Promise((r) => setTimeout(r, 15));
        running--;
        if (calls === 2) throw new Error('ListShards throttled');
        return calls >= 3 ? ['x', 'y'] : ['x'];
      },
      listener,
      5,
      (e) => errors.push(e),
    );
    await membership.start();
    const settled = await Promise.allSettled([membership.refreshNow(), membership.refreshNow()]);
    while (!membership.owned().includes('y')) await new Promise((r) => setTimeout(r, 5));
    await membership.leave();
    expect(overlapped).toBe(false);
    // The one failed evaluation surfaced once (to its caller or the poll's error handler), and polling went on.
    expect(settled.filter((s) => s.status === 'rejected').length + errors.length).toBe(1);
    expect(membership.owned()).toEqual([]);
  });
});
