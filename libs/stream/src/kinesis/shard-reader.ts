import { GetRecordsCommand, GetShardIteratorCommand, type GetRecordsCommandOutput, type GetShardIteratorCommandOutput } from '@aws-sdk/client-kinesis';
import type { StreamRecord } from '../stream-log';
import type { KinesisSender } from './client';
import { errorName } from './errors';
import type { ShardListings } from './shard-listing';

interface CachedIterator {
  /** The position the iterator continues after (null: the shard's start). */
  after: string | null;
  iterator: string;
  issuedAt: number;
}

type KinesisRecord = NonNullable<GetRecordsCommandOutput['Records']>[number];

/** Kinesis shard iterators expire 5 minutes after they are issued; ours are replaced a minute early. */
const ITERATOR_TTL_MS = 4 * 60_000;
/** GetRecords returns at most 10,000 records. */
const MAX_RECORDS_PER_GET = 10_000;
/** GetRecords calls in one read() or isFinished() at most: how far empty answers are followed. */
const MAX_EMPTY_GETS = 5;
/** How stale the shard listing that isFinished() consults for "is this shard closed" may be. */
const SHARD_LISTING_TTL_MS = 1000;

/**
 * Reads shards by sequence number: GetShardIterator then GetRecords. The NextShardIterator is kept
 * per shard with the position it continues after, so a reader that continues where it stopped
 * pays one GetRecords per read; the end of a closed shard, once reached, is remembered.
 */
export class ShardReader {
  /** `${name}\0${shard}` -> the iterator that continues after the last position read. */
  private readonly iterators = new Map<string, CachedIterator>();
  /** `${name}\0${shard}` -> the position after which a closed shard has nothing left (null: empty shard). */
  private readonly shardEnds = new Map<string, string | null>();

  constructor(
    private readonly client: KinesisSender,
    private readonly listings: ShardListings,
  ) {}

  /** Up to `max` records of shard `shard` of Kinesis stream `name` after `after`, labelled as port stream `stream`. */
  async read(stream: string, name: string, shard: string, after: string | null, max: number): Promise<StreamRecord[]> {
    const key = shardKey(name, shard);
    if (this.endReached(key, after)) return [];
    const out: StreamRecord[] = [];
    let position = after;
    await this.getRecords(name, shard, after, Math.min(max, MAX_RECORDS_PER_GET), (response) => {
      for (const record of response.Records ?? []) out.push(toStreamRecord(stream, shard, record));
      if (out.length > 0) position = out[out.length - 1].position;
      if (response.NextShardIterator) {
        this.iterators.set(key, { after: position, iterator: response.NextShardIterator, issuedAt: Date.now() });
      } else {
        this.iterators.delete(key);
        this.shardEnds.set(key, position);
      }
      // Kinesis may answer empty while records lie further on (MillisBehindLatest > 0): follow it a little.
      return out.length === 0 && (response.MillisBehindLatest ?? 0) > 0 && response.NextShardIterator !== undefined;
    });
    return out;
  }

  /** Whether `shard` is closed and read to its end after `after` (see KinesisStreamLog.isFinished). */
  async isFinished(name: string, shard: string, after: string | null): Promise<boolean> {
    const key = shardKey(name, shard);
    if (this.endReached(key, after)) return true;
    const listed = (await this.listings.list(name, SHARD_LISTING_TTL_MS)).find((s) => s.id === shard);
    if (listed === undefined) return true;
    if (!listed.closed) return false;
    let finished = false;
    await this.getRecords(name, shard, after, 1, (response) => {
      if ((response.Records ?? []).length > 0) return false;
      const cached = this.iterators.get(key);
      if (!response.NextShardIterator) {
        finished = true;
        this.shardEnds.set(key, after);
        if (cached?.after === after) this.iterators.delete(key);
        return false;
      }
      // An empty answer moved the iterator on without passing a record: the reader may use it too.
      if (cached?.after === after) this.iterators.set(key, { after, iterator: response.NextShardIterator, issuedAt: Date.now() });
      return true; // a closed shard answers empty (with an iterator) until the iterator passes its end
    });
    return finished;
  }

  private endReached(key: string, after: string | null): boolean {
    return this.shardEnds.has(key) && this.shardEnds.get(key) === after;
  }

  /**
   * GetRecords from `after` on, starting with the cached iterator when it continues from exactly
   * there. `handle` sees every answer and returns true to follow NextShardIterator with another
   * call (at most MAX_EMPTY_GETS calls). An expired cached iterator is replaced once.
   */
  private async getRecords(
    name: string,
    shard: string,
    after: string | null,
    limit: number,
    handle: (response: GetRecordsCommandOutput) => boolean,
  ): Promise<void> {
    const cached = this.iterators.get(shardKey(name, shard));
    const usable = cached !== undefined && cached.after === after && Date.now() - cached.issuedAt < ITERATOR_TTL_MS;
    let iterator = usable ? cached.iterator : await this.shardIterator(name, shard, after);
    let fresh = !usable;
    for (let call = 0; call < MAX_EMPTY_GETS; call++) {
      let response: GetRecordsCommandOutput;
      try {
        response = (await this.client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }))) as GetRecordsCommandOutput;
      } catch (error) {
        if (fresh || errorName(error) !== 'ExpiredIteratorException') throw error;
        iterator = await this.shardIterator(name, shard, after);
        fresh = true;
        call--;
        continue;
      }
      fresh = true;
      if (!handle(response) || !response.NextShardIterator) return;
      iterator = response.NextShardIterator;
    }
  }

  private async shardIterator(name: string, shard: string, after: string | null): Promise<string> {
    const response = (await this.client.send(
      new GetShardIteratorCommand(
        after === null
          ? { StreamName: name, ShardId: shard, ShardIteratorType: 'TRIM_HORIZON' }
          : { StreamName: name, ShardId: shard, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after },
      ),
    )) as GetShardIteratorCommandOutput;
    if (!response.ShardIterator) throw new Error(`GetShardIterator ${name}/${shard} returned no iterator`);
    return response.ShardIterator;
  }
}

function toStreamRecord(stream: string, partition: string, record: KinesisRecord): StreamRecord {
  const data = record.Data ?? new Uint8Array();
  return {
    stream,
    partition,
    position: record.SequenceNumber as string,
    key: record.PartitionKey ?? '',
    // A view over the SDK's bytes, not a copy.
    value: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    appendTime: record.ApproximateArrivalTimestamp?.getTime() ?? 0,
  };
}

function shardKey(name: string, shard: string): string {
  return `${name}\0${shard}`;
}
