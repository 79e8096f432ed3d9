import type { KinesisClient, KinesisClientConfig } from '@aws-sdk/client-kinesis';
import type { KinesisConfig } from '@meterstream/config';
import { createKinesisClient, type KinesisSender } from './kinesis/client';
import { toPutEntries } from './kinesis/put-batches';
import { putRecords } from './kinesis/put-records';
import { DEFAULT_KINESIS_RETRY_POLICY, type KinesisRetryPolicy } from './kinesis/retry';
import { orderParentsFirst } from './kinesis/shard-lineage';
import { lineageOf, ShardListings } from './kinesis/shard-listing';
import { ShardReader } from './kinesis/shard-reader';
import { KinesisStreams } from './kinesis/streams';
import type { LeaseCoordinator } from './leases/lease-coordinator';
import { LeaseManager } from './leases/lease-manager';
import type { AppendRecord, GroupListener, StreamLog, StreamRecord } from './stream-log';

export type { KinesisSender } from './kinesis/client';
export { KINESIS_LIMITS } from './kinesis/put-batches';
export { DEFAULT_KINESIS_RETRY_POLICY, type KinesisRetryPolicy } from './kinesis/retry';
export { orderParentsFirst, readableShards, type ShardLineage } from './kinesis/shard-lineage';
export { DynamoCheckpointStore, DYNAMODB_CHECKPOINT_LIMITS } from './dynamodb-checkpoint-store';
export { LeaseCoordinator, type LeaseTimings, type ListedShard, type ShardSource } from './leases/lease-coordinator';
export { DEFAULT_LEASE_TIMINGS, LeaseManager, type LeaseManagerOptions } from './leases/lease-manager';
export { LeaseLostError, LeaseTable, LEASE_TABLE_KEY, type Lease, type LeaseFence, type LeaseTableOptions } from './leases/lease-table';

export interface KinesisStreamLogOptions {
  region: string;
  /** Local engines only (kinesalite): an http endpoint, spoken to over HTTP/1.1. Unset in AWS. */
  endpoint?: string;
  /** Port stream `readings` is Kinesis stream `${streamPrefix}readings`. */
  streamPrefix: string;
  /** Shard count of the streams this adapter creates; an existing stream keeps its own. */
  shards: number;
  /**
   * The lease table of the consumer groups (joinGroup) and of their committed positions: one
   * LeaseManager per process, shared with the processor's DynamoCheckpointStore.
   */
  leases: LeaseManager;
  /** close() closes the lease manager too (nobody else holds it). */
  ownsLeases?: boolean;
  /**
   * Retries of a failed Kinesis call (by the SDK client), and rounds of re-sending the records a
   * PutRecords answer rejected (by the adapter), before giving up. Default 8.
   */
  maxRetries?: number;
  /** Backoff between retries; defaults in DEFAULT_KINESIS_RETRY_POLICY. */
  retry?: Partial<Omit<KinesisRetryPolicy, 'maxRetries'>>;
  /** How long a new stream may take to become ACTIVE. Default 5 min (AWS takes ~30 s). */
  streamActiveTimeoutMs?: number;
  /** The SDK client (or a fake with its `send`); built from region/endpoint when absent. */
  client?: KinesisSender;
  /** The HTTP layer under the client built here (tests answer as Kinesis would, under the SDK's retries). */
  requestHandler?: KinesisClientConfig['requestHandler'];
  logger?: { warn(message: string): void };
}

/**
 * The stream port on Amazon Kinesis Data Streams (tested against kinesalite).
 *
 * - stream `s` is Kinesis stream `${streamPrefix}s`, created on first use (CreateStream, then
 *   waiting for ACTIVE); a partition is a shard id, a position a sequence number.
 * - append: PutRecords in requests within the service limits (500 records, 5 MiB, 1 MiB per
 *   record), partition key = record key, requests one after another so a later request never
 *   overtakes an earlier one. AWS documents PutRecords as not guaranteeing order only because a
 *   rejected record does not stop the ones after it; the records a request stores get sequence
 *   numbers per shard in request order (kinesalite likewise, see the engine spec), so per-key
 *   order holds, except after a partial failure: a record Kinesis rejected is retried
 *   after the records of the same request that it accepted, so it lands behind later records of
 *   its key from that request (never behind records of a later request). The processor's
 *   event-time windows absorb such a swap like any out-of-order arrival.
 * - read: GetShardIterator then GetRecords; the NextShardIterator is kept per shard with the
 *   position it continues after, so a reader that continues where it stopped pays one GetRecords
 *   per read.
 * - resharding: partitions() lists parents before children; isFinished() tells a drained closed
 *   shard; readableShards() holds children back until their parents are drained.
 * - groups: leases in DynamoDB, KCL-style (see joinGroup() and leases/).
 *
 * Each of these is a part in kinesis/ (streams, put-records, shard-reader, shard-listing) or
 * leases/ (lease table, coordinator, balancing); this class only composes them behind the port.
 */
export class KinesisStreamLog implements StreamLog {
  private readonly client: KinesisSender;
  private readonly ownsClient: boolean;
  private readonly retryPolicy: KinesisRetryPolicy;
  private readonly streams: KinesisStreams;
  private readonly listings: ShardListings;
  private readonly reader: ShardReader;
  private readonly leases: LeaseManager;
  private readonly ownsLeases: boolean;
  private readonly memberships = new Set<LeaseCoordinator>();

  constructor(options: KinesisStreamLogOptions) {
    this.retryPolicy = { ...DEFAULT_KINESIS_RETRY_POLICY, ...options.retry, maxRetries: options.maxRetries ?? DEFAULT_KINESIS_RETRY_POLICY.maxRetries };
    this.ownsClient = options.client === undefined;
    this.client =
      options.client ??
      createKinesisClient({ region: options.region, endpoint: options.endpoint, requestHandler: options.requestHandler, retryPolicy: this.retryPolicy });
    this.streams = new KinesisStreams(this.client, {
      prefix: options.streamPrefix,
      shards: options.shards,
      activeTimeoutMs: options.streamActiveTimeoutMs ?? 5 * 60_000,
    });
    this.listings = new ShardListings(this.client);
    this.reader = new ShardReader(this.client, this.listings);
    this.leases = options.leases;
    this.ownsLeases = options.ownsLeases ?? false;
  }

  /** With `leases` (the checkpoint store's) the log shares them; without, it opens its own and closes them with itself. */
  static fromConfig(config: KinesisConfig, extra: Partial<Pick<KinesisStreamLogOptions, 'leases' | 'client' | 'requestHandler' | 'logger'>> = {}): KinesisStreamLog {
    return new KinesisStreamLog({
      region: config.AWS_REGION,
      endpoint: config.KINESIS_ENDPOINT,
      streamPrefix: config.KINESIS_STREAM_PREFIX,
      shards: config.KINESIS_SHARDS,
      ownsLeases: extra.leases === undefined,
      ...extra,
      leases: extra.leases ?? leaseManagerFromConfig(config, extra.logger),
    });
  }

  /** The Kinesis stream behind a port stream. */
  kinesisStreamName(stream: string): string {
    return this.streams.nameOf(stream);
  }

  /**
   * Resolves once every record is stored. Rejects before sending anything if a record breaks a
   * per-record limit; rejects when a request fails after the SDK's retries, or when some of its
   * records stay rejected after maxRetries rounds — the requests before it stay stored (Kinesis
   * cannot take records back), so retrying the whole append duplicates them (at-least-once, like
   * every Kinesis producer).
   */
  async append(stream: string, records: readonly AppendRecord[]): Promise<void> {
    if (records.length === 0) return;
    const entries = toPutEntries(records);
    await putRecords(this.client, await this.streams.ready(stream), entries, this.retryPolicy);
  }

  /** Every shard of the stream, open and closed, parents before children. */
  async partitions(stream: string): Promise<string[]> {
    return orderParentsFirst(await this.parents(stream));
  }

  /** Every shard -> its parent shard ids (ParentShardId, AdjacentParentShardId; [] for an original shard). */
  async parents(stream: string): Promise<Map<string, string[]>> {
    return lineageOf(await this.listings.list(await this.streams.ready(stream), 0));
  }

  /** Kinesis sequence numbers are not dense: no record count between two positions (its lag is MillisBehindLatest, CloudWatch's iterator age). */
  async backlog(): Promise<null> {
    return null;
  }

  async read(stream: string, partition: string, after: string | null, max: number): Promise<StreamRecord[]> {
    if (max < 1) return [];
    return this.reader.read(stream, await this.streams.ready(stream), partition, after, max);
  }

  /**
   * True when `partition` is a closed shard (a reshard ended it) with nothing after `after`:
   * GetRecords from there reached the shard's end (no NextShardIterator). An open shard is never
   * finished; a shard no longer listed (expired past retention) is. Reads nothing away: records
   * found after `after` stay for the next read().
   */
  async isFinished(stream: string, partition: string, after: string | null): Promise<boolean> {
    return this.reader.isFinished(await this.streams.ready(stream), partition, after);
  }

  /** The positions a group committed: kept in the group's lease rows (Kinesis has no groups of its own; KCL keeps them in DynamoDB too). */
  async committed(group: string, stream: string): Promise<Map<string, string>> {
    return this.leases.committed(group, await this.streams.ready(stream));
  }

  /**
   * Commits positions into the lease rows. A member of the group commits only the shards it
   * holds, each conditional on its lease (LeaseLostError otherwise: a worker that lost a shard
   * cannot move its position); a process that did not join the group writes unfenced (tooling,
   * the processor's courtesy commit of dead-letter positions).
   */
  async commit(group: string, stream: string, positions: ReadonlyMap<string, string>): Promise<void> {
    await this.leases.commit(group, await this.streams.ready(stream), positions);
  }

  /**
   * Joins the group with leases in DynamoDB, the Kinesis Client Library's way (leases/): one
   * lease per shard, renewed by its holder; a lease not renewed within KINESIS_LEASE_DURATION_MS
   * is taken by another member; a joining member takes expired leases or asks the busiest member
   * to hand one over until every member has an even share; a child shard is leased only once its
   * parents are read to their end, as far as the group committed (so the group must commit: the
   * commit of a shard's last record is what lets its children start). Resolves after the first
   * round; assignments follow whenever leases are won or lost.
   */
  async joinGroup(group: string, stream: string, listener: GroupListener): Promise<LeaseCoordinator> {
    const name = await this.streams.ready(stream);
    const membership = await this.leases.join(
      group,
      name,
      {
        list: () => this.listings.list(name, 0),
        isFinished: (shardId, after) => this.reader.isFinished(name, shardId, after),
      },
      listener,
    );
    this.memberships.add(membership);
    return membership;
  }

  async close(): Promise<void> {
    for (const membership of this.memberships) membership.stop();
    this.memberships.clear();
    if (this.ownsLeases) this.leases.close();
    if (this.ownsClient) (this.client as KinesisClient).destroy();
  }
}

/** The process's lease manager from the Kinesis settings (KINESIS_LEASE_*, DYNAMODB_ENDPOINT). */
export function leaseManagerFromConfig(config: KinesisConfig, logger?: { warn(message: string): void }): LeaseManager {
  return new LeaseManager({
    table: { tableName: config.KINESIS_LEASE_TABLE, region: config.AWS_REGION, endpoint: config.DYNAMODB_ENDPOINT, createIfMissing: config.KINESIS_LEASE_TABLE_CREATE },
    leaseDurationMs: config.KINESIS_LEASE_DURATION_MS,
    renewIntervalMs: config.KINESIS_LEASE_RENEW_MS,
    takeIntervalMs: config.KINESIS_LEASE_TAKE_MS,
    logger,
  });
}
