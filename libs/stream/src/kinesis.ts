import type { KinesisClient, KinesisClientConfig } from '@aws-sdk/client-kinesis';
import type { KinesisConfig } from '@meterstream/config';
import type { PartitionCheckpointStore } from './checkpoint-store';
import { createKinesisClient, type KinesisSender } from './kinesis/client';
import { CommittedPositions } from './kinesis/committed-positions';
import type { PolledMembership } from './kinesis/polled-membership';
import { toPutEntries } from './kinesis/put-batches';
import { putRecords } from './kinesis/put-records';
import { DEFAULT_KINESIS_RETRY_POLICY, type KinesisRetryPolicy } from './kinesis/retry';
import { orderParentsFirst } from './kinesis/shard-lineage';
import { lineageOf, ShardListings } from './kinesis/shard-listing';
import { ShardReader } from './kinesis/shard-reader';
import { StaticGroups } from './kinesis/static-groups';
import { KinesisStreams } from './kinesis/streams';
import type { AppendRecord, GroupListener, StreamLog, StreamRecord } from './stream-log';

export type { KinesisSender } from './kinesis/client';
export { KINESIS_LIMITS } from './kinesis/put-batches';
export { DEFAULT_KINESIS_RETRY_POLICY, type KinesisRetryPolicy } from './kinesis/retry';
export { PolledMembership } from './kinesis/polled-membership';
export { orderParentsFirst, readableShards, shardsOwnedBy, type ShardLineage } from './kinesis/shard-lineage';

export interface KinesisStreamLogOptions {
  region: string;
  /** Local engines only (kinesalite): an http endpoint, spoken to over HTTP/1.1. Unset in AWS. */
  endpoint?: string;
  /** Port stream `readings` is Kinesis stream `${streamPrefix}readings`. */
  streamPrefix: string;
  /** Shard count of the streams this adapter creates; an existing stream keeps its own. */
  shards: number;
  /** This member's share of a consumer group's shards (joinGroup): instance `instance` of `instances`, 0-based. */
  instance: number;
  instances: number;
  /**
   * Retries of a failed Kinesis call (by the SDK client), and rounds of re-sending the records a
   * PutRecords answer rejected (by the adapter), before giving up. Default 8.
   */
  maxRetries?: number;
  /** Backoff between retries; defaults in DEFAULT_KINESIS_RETRY_POLICY. */
  retry?: Partial<Omit<KinesisRetryPolicy, 'maxRetries'>>;
  /** How often a group member lists the shards again to notice a reshard. Default 10 s. */
  groupPollMs?: number;
  /** How long a new stream may take to become ACTIVE. Default 5 min (AWS takes ~30 s). */
  streamActiveTimeoutMs?: number;
  /**
   * Where commit() keeps a group's positions. Without it they live in this process's memory (see
   * committed()). Pass the processors' shared checkpoint store when PROCESSOR_INSTANCES > 1.
   */
  positionStore?: PartitionCheckpointStore;
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
 * - groups: a static spread over PROCESSOR_INSTANCES (see joinGroup()).
 *
 * Each of these is a part in kinesis/ (streams, put-records, shard-reader, shard-listing,
 * committed-positions, static-groups); this class only composes them behind the port.
 */
export class KinesisStreamLog implements StreamLog {
  private readonly client: KinesisSender;
  private readonly ownsClient: boolean;
  private readonly retryPolicy: KinesisRetryPolicy;
  private readonly streams: KinesisStreams;
  private readonly listings: ShardListings;
  private readonly reader: ShardReader;
  private readonly positions: CommittedPositions;
  private readonly groups: StaticGroups;

  constructor(options: KinesisStreamLogOptions) {
    if (!Number.isInteger(options.instances) || options.instances < 1) throw new Error(`instances must be a positive integer, got ${options.instances}`);
    if (!Number.isInteger(options.instance) || options.instance < 0 || options.instance >= options.instances) {
      throw new Error(`instance is 0-based and must be below instances (${options.instances}), got ${options.instance}`);
    }
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
    this.positions = new CommittedPositions(options.positionStore);
    this.groups = new StaticGroups(this.listings, this.reader, this.positions, {
      instance: options.instance,
      instances: options.instances,
      pollMs: options.groupPollMs ?? 10_000,
      logger: options.logger ?? console,
    });
  }

  static fromConfig(config: KinesisConfig, extra: Pick<KinesisStreamLogOptions, 'positionStore' | 'client' | 'requestHandler' | 'logger'> = {}): KinesisStreamLog {
    return new KinesisStreamLog({
      region: config.AWS_REGION,
      endpoint: config.KINESIS_ENDPOINT,
      streamPrefix: config.KINESIS_STREAM_PREFIX,
      shards: config.KINESIS_SHARDS,
      instance: config.PROCESSOR_INSTANCE,
      instances: config.PROCESSOR_INSTANCES,
      ...extra,
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

  /**
   * The positions a group committed. Kinesis has no consumer groups (KCL keeps them in DynamoDB),
   * so they are kept here: in the `positionStore` when one is given (shared by the group's
   * instances, durable), else in this process's memory. Memory is enough where the port uses
   * commits as a courtesy — a processor restores its positions from its own checkpoint — but they
   * are lost on restart and invisible to the other instances; joinGroup() reads them to learn that
   * a parent shard is drained, so a group of several instances needs the shared store.
   */
  async committed(group: string, stream: string): Promise<Map<string, string>> {
    const name = await this.streams.ready(stream);
    return this.positions.load(group, name, async () => (await this.listings.list(name, 0)).map((s) => s.id));
  }

  async commit(group: string, stream: string, positions: ReadonlyMap<string, string>): Promise<void> {
    await this.positions.save(group, await this.streams.ready(stream), positions);
  }

  /**
   * A static spread, like KCL without leases: instance i of n owns the shards whose number is
   * ≡ i (mod n) (on a stream with all its shards listed: their index in the id-sorted list), and
   * of those it is assigned the readable ones — a child only once every ancestor is drained by the
   * group, i.e. the group's committed position of that ancestor is its end (isFinished). So the
   * group must commit: the commit of a shard's last record is what lets its children start, also
   * on another instance (which sees it through the shared positionStore). Every `groupPollMs` the
   * shards are listed again: drained shards are revoked, children that became readable assigned.
   *
   * Nothing is rebalanced: the members do not know of each other, so a dead instance's shards are
   * not taken over automatically — its replacement, started with the same PROCESSOR_INSTANCE,
   * takes them (and their checkpoints). PROCESSOR_INSTANCES must be the same on every member.
   */
  async joinGroup(group: string, stream: string, listener: GroupListener): Promise<PolledMembership> {
    return this.groups.join(group, await this.streams.ready(stream), listener);
  }

  async close(): Promise<void> {
    this.groups.stopAll();
    if (this.ownsClient) (this.client as KinesisClient).destroy();
  }
}
