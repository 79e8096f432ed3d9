import type { PartitionCheckpointStore } from '../checkpoint-store';

/**
 * The positions consumer groups commit, per Kinesis stream and shard. Kinesis keeps none (KCL
 * keeps them in DynamoDB): they go to the positionStore when there is one (durable, shared by the
 * group's instances), else to this process's memory.
 */
export class CommittedPositions {
  /** Without a store: `${group}\0${name}` -> shard -> position. */
  private readonly memory = new Map<string, Map<string, string>>();

  constructor(private readonly store: PartitionCheckpointStore | undefined) {}

  /** Whether the other instances of a group, and a restarted process, see the commits. */
  get shared(): boolean {
    return this.store !== undefined;
  }

  /**
   * The group's committed positions in stream `name`. The store is asked shard by shard, for the
   * shards `shardIds` names (called only then); memory answers every shard it holds.
   */
  async load(group: string, name: string, shardIds: () => Promise<readonly string[]>): Promise<Map<string, string>> {
    const store = this.store;
    if (!store) return new Map(this.memory.get(memoryKey(group, name)) ?? []);
    const out = new Map<string, string>();
    for (const shard of await shardIds()) {
      const saved = await store.load(group, positionKey(name, shard));
      if (saved !== null) out.set(shard, (JSON.parse(saved) as { position: string }).position);
    }
    return out;
  }

  async save(group: string, name: string, positions: ReadonlyMap<string, string>): Promise<void> {
    const store = this.store;
    if (store) {
      await Promise.all([...positions].map(([shard, position]) => store.save(group, positionKey(name, shard), JSON.stringify({ position }))));
      return;
    }
    const key = memoryKey(group, name);
    const saved = this.memory.get(key) ?? new Map<string, string>();
    for (const [shard, position] of positions) saved.set(shard, position);
    this.memory.set(key, saved);
  }
}

function memoryKey(group: string, name: string): string {
  return `${group}\0${name}`;
}

/** Under its own partition names, apart from the processor's checkpoints in the same store. */
function positionKey(name: string, shard: string): string {
  return `kinesis-position/${name}/${shard}`;
}
