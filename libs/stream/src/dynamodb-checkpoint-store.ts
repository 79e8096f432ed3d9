import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { PartitionCheckpointStore } from './checkpoint-store';
import type { LeaseManager } from './leases/lease-manager';

/**
 * DynamoDB's item limit is 400 KB (names and values); a chunk leaves room for the key and
 * bookkeeping attributes. A save is one transaction (at most 100 items, 4 MB in all) of the
 * lease check, the header and the chunks: so at most 12 chunks, about 3.5 MB of gzipped
 * checkpoint — a limit save() enforces with a message rather than leaving to DynamoDB.
 */
export const DYNAMODB_CHECKPOINT_LIMITS = { chunkBytes: 300 * 1024, maxChunks: 12 } as const;

/**
 * The processor's partition checkpoints in the lease table, beside the leases that fence them
 * (Kinesis path). Per (group, partition) a header item (`leaseGroup` = `${group}#checkpoint`,
 * `leaseKey` = partition) names the generation and chunk count; the gzipped checkpoint is split
 * into chunk items (`${partition}#${i}`) of that generation.
 *
 * - save() needs the lease: it writes header and chunks in ONE transaction together with a
 *   condition check on the lease row (owner and counter as this worker holds them, see
 *   LeaseManager.withFence). A worker that lost the lease, however long it was paused, cannot
 *   overwrite what the next owner saves; it gets a LeaseLostError.
 * - load() reads the header, then header and chunks in one serializable TransactGetItems, and
 *   retries if a save landed in between (the generations differ). No lease needed: the next owner
 *   loads right after taking the lease.
 * - Size: the checkpoint is the partition's topology snapshot (open windows, duplicate-tracking
 *   ids, the per-line model state of the lines on that shard), so it grows with the lines and
 *   meters a shard carries; gzip shrinks the JSON several times. Chunks of an older, longer
 *   generation stay behind unused (the header names the count), overwritten by the next long save.
 */
export class DynamoCheckpointStore implements PartitionCheckpointStore {
  private closed = false;

  /** `ownsLeases`: close() closes the lease manager too (nobody else holds it). */
  constructor(
    readonly leases: LeaseManager,
    private readonly ownsLeases = false,
  ) {}

  async load(group: string, partition: string): Promise<string | null> {
    const table = this.leases.table;
    const headerKey = { leaseGroup: checkpointGroup(group), leaseKey: partition };
    for (let attempt = 0; attempt < 5; attempt++) {
      const header = await table.get(headerKey.leaseGroup, headerKey.leaseKey);
      if (header === undefined) return null;
      const chunks = Number(header.chunks);
      const items = await table.getAll([headerKey, ...Array.from({ length: chunks }, (_, i) => ({ leaseGroup: headerKey.leaseGroup, leaseKey: chunkKey(partition, i) }))]);
      const [again, ...parts] = items;
      const generation = header.generation as string;
      if (again?.generation !== generation || parts.some((p) => p?.generation !== generation)) continue; // a save landed in between
      const gz = Buffer.concat(parts.map((p) => Buffer.from(p!.data as Uint8Array)));
      return gunzipSync(gz).toString('utf8');
    }
    throw new Error(`checkpoint of ${group}/${partition} kept changing while it was read (is another worker saving it?)`);
  }

  async save(group: string, partition: string, checkpoint: string): Promise<void> {
    if (this.closed) throw new Error('the DynamoDB checkpoint store is closed');
    const gz = gzipSync(Buffer.from(checkpoint, 'utf8'));
    const { chunkBytes, maxChunks } = DYNAMODB_CHECKPOINT_LIMITS;
    const chunks = Math.max(1, Math.ceil(gz.length / chunkBytes));
    if (chunks > maxChunks) {
      throw new Error(
        `checkpoint of ${group}/${partition} is ${gz.length} bytes gzipped (${checkpoint.length} characters of JSON), above the ${maxChunks * chunkBytes} bytes ` +
          'one DynamoDB transaction carries: spread the lines over more shards',
      );
    }
    const generation = randomUUID();
    const leaseGroup = checkpointGroup(group);
    const items: Record<string, unknown>[] = [{ leaseGroup, leaseKey: partition, generation, chunks, bytes: gz.length, savedAt: Date.now() }];
    for (let i = 0; i < chunks; i++) items.push({ leaseGroup, leaseKey: chunkKey(partition, i), generation, data: gz.subarray(i * chunkBytes, (i + 1) * chunkBytes) });
    await this.leases.withFence(group, partition, (fence) => this.leases.table.writeFenced(fence, items));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsLeases) this.leases.close();
  }
}

function checkpointGroup(group: string): string {
  return `${group}#checkpoint`;
}

function chunkKey(partition: string, index: number): string {
  return `${partition}#${index}`;
}
