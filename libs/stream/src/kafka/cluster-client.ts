import { KafkaJSError, PartitionAssigners, type Broker, type Cluster, type Kafka, type RetryOptions } from 'kafkajs';
import { DEFAULT_KAFKA_RETRY, describeKafkaError } from './connection';

/** A record as read from a partition, control records already dropped. */
export interface FetchedRecord {
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
  /** Epoch ms: the broker's append time on LogAppendTime topics, the producer's clock otherwise. */
  timestamp: number;
}

export interface PartitionFetch {
  /** Records at or after the requested offset, in offset order; empty when caught up. */
  records: FetchedRecord[];
  /** The offset to fetch next (after the last record, or past skipped empty batches). */
  nextOffset: bigint;
  /** The partition's high watermark when the broker answered: every acknowledged record lies below it. */
  highWatermark: bigint;
}

/** The part of a kafkajs Fetch response this client reads (kafkajs types it as `any`). */
interface FetchResponse {
  responses: { topicName: string; partitions: { partition: number; highWatermark: string; messages: RawMessage[] }[] }[];
}

interface RawMessage {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  isControlRecord?: boolean;
}

/** Error types after which the client's view of partition leaders is stale. */
const STALE_METADATA = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'UNKNOWN_TOPIC_OR_PARTITION',
]);

const READ_UNCOMMITTED = 0;

/**
 * Two requests kafkajs's consumer, producer and admin do not offer, sent straight to the brokers:
 *
 * - fetch(): a *pull* read of one partition from a given offset (one Fetch request, answered at
 *   once when there is nothing to read). kafkajs's consumer only pushes records of a consumer
 *   group it joined; the stream port needs `read(partition, after, max)`.
 * - commitOutsideGroup(): an offset commit for a group this process is not a member of (a
 *   "simple" commit, generation -1), as kafka-consumer-groups.sh --reset-offsets does.
 *
 * The cluster connection is kafkajs's own (metadata, leader lookup, connection pool, SASL/TLS).
 * kafkajs hands a consumer's Cluster to partition assigners through its public, typed
 * `PartitionAssigner` hook; that consumer is never run, it only owns the connection.
 */
export class ClusterClient {
  private readonly cluster: Cluster;
  private connecting: Promise<void> | null = null;
  private readonly retry: Required<Pick<RetryOptions, 'initialRetryTime' | 'maxRetryTime'>> & { budgetMs: number };

  constructor(
    kafka: Kafka,
    clientId: string,
    retry: RetryOptions = {},
    /** Broker wait for data when a fetch finds none; 0 answers "caught up" at once. */
    private readonly fetchWaitMs = 0,
  ) {
    let captured: Cluster | undefined;
    kafka.consumer({
      groupId: `${clientId}.cluster-client`,
      allowAutoTopicCreation: false,
      partitionAssigners: [
        (config) => {
          captured = config.cluster;
          return PartitionAssigners.roundRobin(config);
        },
      ],
    });
    if (captured === undefined) throw new Error('kafkajs did not hand its cluster to the partition assigner (kafkajs version changed?)');
    this.cluster = captured;
    const merged = { ...DEFAULT_KAFKA_RETRY, ...retry };
    // The same time budget kafkajs's own retrier spends, so a read gives up when an append would.
    let budgetMs = 0;
    for (let i = 0, wait = merged.initialRetryTime ?? 300; i < (merged.retries ?? 5); i++, wait *= 2) {
      budgetMs += Math.min(wait, merged.maxRetryTime ?? 30_000);
    }
    this.retry = { initialRetryTime: merged.initialRetryTime ?? 300, maxRetryTime: merged.maxRetryTime ?? 30_000, budgetMs };
  }

  /**
   * Reads one partition from `from` (or its oldest retained record): at most about `maxBytes`,
   * but always at least one record batch when one exists. Offsets below the log start (removed by
   * retention) continue from the oldest record still there, like the embedded log after a prune.
   */
  async fetch(topic: string, partition: number, from: bigint | 'earliest', maxBytes: number): Promise<PartitionFetch> {
    let offset = from === 'earliest' ? (await this.offsetBounds(topic, partition)).low : from;
    for (;;) {
      let answer: { messages: RawMessage[]; highWatermark: bigint };
      try {
        answer = await this.withRetries(`fetch ${topic}/${partition} at offset ${offset}`, () => this.fetchOnce(topic, partition, offset, maxBytes));
      } catch (error) {
        if ((error as Error).name !== 'KafkaJSOffsetOutOfRange') throw error;
        const { low, high } = await this.offsetBounds(topic, partition);
        if (offset < low) {
          offset = low;
          continue;
        }
        if (offset > high) {
          throw new Error(
            `position ${offset - 1n} is past the end of Kafka topic ${topic} partition ${partition} (next offset ${high}): ` +
              'was the topic deleted and created again, or is the position from another cluster?',
          );
        }
        continue; // raced with retention moving the log start: ask again
      }
      const records: FetchedRecord[] = [];
      let last = -1n;
      for (const m of answer.messages) {
        const at = BigInt(m.offset);
        if (at > last) last = at;
        // A fetch starts at the batch holding `offset`, and may include control records.
        if (at < offset || m.isControlRecord) continue;
        records.push({ offset: at, key: m.key, value: m.value, timestamp: Number(m.timestamp) });
      }
      if (records.length > 0) return { records, nextOffset: records[records.length - 1].offset + 1n, highWatermark: answer.highWatermark };
      if (last >= offset) {
        offset = last + 1n; // only control records: move past them
        continue;
      }
      if (offset >= answer.highWatermark) return { records, nextOffset: offset, highWatermark: answer.highWatermark };
      // Below the high watermark yet nothing decoded: compaction left an empty batch here (kept
      // for producer state), which kafkajs decodes to nothing. Step over it.
      offset += 1n;
    }
  }

  /** The partition's log start offset (oldest retained record) and high watermark. */
  async offsetBounds(topic: string, partition: number): Promise<{ low: bigint; high: bigint }> {
    return this.withRetries(`list offsets of ${topic}/${partition}`, async () => {
      await this.connect();
      await this.cluster.addTargetTopic(topic);
      const [earliest] = await this.cluster.fetchTopicsOffset([{ topic, partitions: [{ partition }], fromBeginning: true }]);
      const [latest] = await this.cluster.fetchTopicsOffset([{ topic, partitions: [{ partition }], fromBeginning: false }]);
      const low = earliest?.partitions.find((p) => p.partition === partition)?.offset;
      const high = latest?.partitions.find((p) => p.partition === partition)?.offset;
      if (low === undefined || high === undefined) throw new KafkaJSError(`no offsets returned for ${topic}/${partition}`, { retriable: true });
      return { low: BigInt(low), high: BigInt(high) };
    });
  }

  /**
   * Commits offsets (the next offset to read, Kafka's convention) for a group without being its
   * member. Kafka accepts this only while the group has no live members.
   */
  async commitOutsideGroup(groupId: string, topic: string, offsets: { partition: number; offset: string }[]): Promise<void> {
    try {
      await this.withRetries(`commit offsets of group ${groupId}`, async () => {
        await this.connect();
        const coordinator = await this.cluster.findGroupCoordinator({ groupId });
        await coordinator.offsetCommit({ groupId, groupGenerationId: -1, memberId: '', topics: [{ topic, partitions: offsets }] });
      });
    } catch (error) {
      const type = (error as { cause?: { type?: string } }).cause?.type;
      if (type === 'UNKNOWN_MEMBER_ID' || type === 'ILLEGAL_GENERATION') {
        throw new Error(
          `Kafka refused to commit offsets of group "${groupId}": the group has live members elsewhere, ` +
            'so only its members may commit (commit from the process that joined the group)',
          { cause: error },
        );
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.cluster.disconnect();
  }

  private connect(): Promise<void> {
    if (this.cluster.isConnected()) return Promise.resolve();
    if (this.connecting === null) {
      this.connecting = this.cluster.connect().finally(() => {
        this.connecting = null;
      });
    }
    return this.connecting;
  }

  private async fetchOnce(
    topic: string,
    partition: number,
    offset: bigint,
    maxBytes: number,
  ): Promise<{ messages: RawMessage[]; highWatermark: bigint }> {
    const broker = await this.leaderOf(topic, partition);
    const response = (await broker.fetch({
      isolationLevel: READ_UNCOMMITTED, // no transactional producer writes these topics
      maxWaitTime: this.fetchWaitMs,
      minBytes: 1,
      maxBytes,
      topics: [{ topic, partitions: [{ partition, fetchOffset: offset.toString(), maxBytes }] }],
    })) as FetchResponse;
    const data = response.responses.find((r) => r.topicName === topic)?.partitions.find((p) => p.partition === partition);
    if (data === undefined) throw new KafkaJSError(`the broker answered no data for ${topic}/${partition}`, { retriable: true });
    return { messages: data.messages, highWatermark: BigInt(data.highWatermark) };
  }

  private async leaderOf(topic: string, partition: number): Promise<Broker> {
    await this.connect();
    await this.cluster.addTargetTopic(topic);
    const [nodeId] = Object.keys(this.cluster.findLeaderForPartitions(topic, [partition]));
    if (nodeId === undefined) {
      await this.cluster.refreshMetadata();
      throw new KafkaJSError(`no leader known for ${topic}/${partition}`, { retriable: true });
    }
    return this.cluster.findBroker({ nodeId });
  }

  /**
   * Retries retriable kafkajs errors (lost connection, leader moved, request timed out) with
   * exponential backoff, refreshing metadata in between, for the retry budget; anything else,
   * or the budget spent, fails with a message naming the operation. Offset-out-of-range is the
   * caller's to handle and passes through at once.
   */
  private async withRetries<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.retry.budgetMs;
    let wait = this.retry.initialRetryTime;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        const e = error as KafkaJSError & { type?: string; host?: string; port?: number };
        if (e.name === 'KafkaJSOffsetOutOfRange') throw error;
        const retriable = error instanceof KafkaJSError && e.retriable;
        if (!retriable || Date.now() + wait > deadline) {
          throw new Error(`Kafka ${what} failed${retriable ? ' after retrying' : ''}: ${describeKafkaError(error)}`, { cause: error });
        }
        await this.recover(e);
        await new Promise((resolve) => setTimeout(resolve, wait * (0.8 + Math.random() * 0.4)));
        wait = Math.min(wait * 2, this.retry.maxRetryTime);
      }
    }
  }

  private async recover(e: { name: string; type?: string; host?: string; port?: number }): Promise<void> {
    try {
      if (e.name === 'KafkaJSConnectionClosedError' && e.host !== undefined && e.port !== undefined) {
        this.cluster.removeBroker({ host: e.host, port: e.port });
      } else if (
        (e.type !== undefined && STALE_METADATA.has(e.type)) ||
        ['KafkaJSConnectionError', 'KafkaJSBrokerNotFound', 'KafkaJSTopicMetadataNotLoaded'].includes(e.name)
      ) {
        await this.cluster.refreshMetadata();
      }
    } catch {
      // The cluster may still be down; the next attempt finds out and is retried in turn.
    }
  }
}
