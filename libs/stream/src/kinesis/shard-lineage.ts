/**
 * Shard lineage after resharding. A split closes one shard and opens two children; a merge closes
 * two and opens one. A key's records before the reshard are in the parent(s), after it in a
 * child, so per-key order holds only if every parent is read to its end before its children.
 */

/** Every shard of a stream -> its parent shard ids ([] for an original shard), parents first. */
export type ShardLineage = ReadonlyMap<string, readonly string[]>;

/**
 * Orders shards so that every parent comes before its children, ties by shard id. Kinesis gives
 * children higher ids than their parents, so this is normally plain id order; the topological
 * pass only guards against a listing that says otherwise.
 */
export function orderParentsFirst(lineage: ShardLineage): string[] {
  const ids = [...lineage.keys()].sort(compareShardIds);
  const placed = new Set<string>();
  const out: string[] = [];
  const place = (id: string, path: Set<string>) => {
    if (placed.has(id) || path.has(id)) return; // path: a (malformed) cycle is cut rather than looping
    path.add(id);
    for (const parent of lineage.get(id) ?? []) if (lineage.has(parent)) place(parent, path);
    placed.add(id);
    out.push(id);
  };
  for (const id of ids) place(id, new Set());
  return out;
}

/**
 * The shards a consumer may read now, parents first: those not yet drained whose parents are all
 * drained. Drained = finished, and so are all its ancestors: an empty closed shard between a
 * grandparent and a grandchild does not let the grandchild overtake the grandparent's records.
 * A parent missing from the lineage counts as drained: Kinesis stops listing a closed shard once
 * its records have passed the retention period, so nothing of it is left to read.
 */
export function readableShards(lineage: ShardLineage, finished: ReadonlySet<string>): string[] {
  const drained = new Set<string>();
  const readable: string[] = [];
  for (const id of orderParentsFirst(lineage)) {
    const parentsDrained = (lineage.get(id) ?? []).every((parent) => drained.has(parent) || !lineage.has(parent));
    if (!parentsDrained) continue;
    if (finished.has(id)) drained.add(id);
    else readable.push(id);
  }
  return readable;
}

function shardNumber(id: string): number | undefined {
  const match = /^shardId-(\d+)$/.exec(id);
  return match ? Number(match[1]) : undefined;
}

/** Shard ids in creation order: by their number when both have one, else by text. */
export function compareShardIds(a: string, b: string): number {
  const na = shardNumber(a);
  const nb = shardNumber(b);
  if (na !== undefined && nb !== undefined && na !== nb) return na - nb;
  return a < b ? -1 : a > b ? 1 : 0;
}
