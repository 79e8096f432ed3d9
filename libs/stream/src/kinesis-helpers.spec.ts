import { splitIntoPutBatches, type PutEntry } from './kinesis/put-batches';
import { orderParentsFirst, readableShards, type ShardLineage } from './kinesis/shard-lineage';

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
