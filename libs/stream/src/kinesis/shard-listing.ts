import { ListShardsCommand, type ListShardsCommandInput, type ListShardsCommandOutput } from '@aws-sdk/client-kinesis';
import type { KinesisSender } from './client';
import { orderParentsFirst } from './shard-lineage';

export interface ShardDescription {
  id: string;
  parents: string[];
  /** The shard has an ending sequence number: a reshard closed it, no record is added any more. */
  closed: boolean;
}

/** The shards of Kinesis streams as ListShards reports them, parents first, with a short-lived cache. */
export class ShardListings {
  private readonly listings = new Map<string, { at: number; shards: ShardDescription[] }>();

  constructor(private readonly client: KinesisSender) {}

  /** ListShards, every page; a listing younger than maxAgeMs is reused. */
  async list(name: string, maxAgeMs: number): Promise<ShardDescription[]> {
    const cached = this.listings.get(name);
    if (cached && Date.now() - cached.at <= maxAgeMs) return cached.shards;
    const shards: ShardDescription[] = [];
    let input: ListShardsCommandInput = { StreamName: name };
    for (;;) {
      const page = (await this.client.send(new ListShardsCommand(input))) as ListShardsCommandOutput;
      for (const shard of page.Shards ?? []) {
        if (!shard.ShardId) continue;
        const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => Boolean(p));
        shards.push({ id: shard.ShardId, parents, closed: Boolean(shard.SequenceNumberRange?.EndingSequenceNumber) });
      }
      if (!page.NextToken) break;
      input = { NextToken: page.NextToken }; // with a NextToken, Kinesis wants no StreamName
    }
    const byId = new Map(shards.map((s) => [s.id, s]));
    const ordered = orderParentsFirst(lineageOf(shards)).map((id) => byId.get(id) as ShardDescription);
    this.listings.set(name, { at: Date.now(), shards: ordered });
    return ordered;
  }
}

/** Every shard -> its parent shard ids (ParentShardId, AdjacentParentShardId; [] for an original shard). */
export function lineageOf(shards: readonly ShardDescription[]): Map<string, string[]> {
  return new Map(shards.map((s) => [s.id, s.parents]));
}
