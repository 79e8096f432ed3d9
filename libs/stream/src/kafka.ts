import type { KafkaConfig } from '@meterstream/config';
import type { Admin, Kafka, Message } from 'kafkajs';
import { ClusterClient, type FetchedRecord } from './kafka/cluster-client';
import {
  createKafka,
  describeKafkaError,
  kafkaConnectionFromConfig,
  parseOffsetPosition,
  parsePartitionNumber,
  TopicRegistry,
  type KafkaConnectionOptions,
  type KafkaLogger,
} from './kafka/connection';
import { KafkaGroupMember, type GroupMemberOptions } from './kafka/group-member';
import { IdempotentProducer } from './kafka/idempotent-producer';
import { partitionForKey } from './partitioner';
import type { AppendRecord, GroupListener, GroupMembership, StreamLog, StreamRecord } from './stream-log';

export { DEFAULT_KAFKA_RETRY, kafkaConnectionFromConfig, type KafkaConnectionOptions, type KafkaLogger } from './kafka/connection';
export type { GroupMemberOptions as KafkaGroupOptions } from './kafka/group-member';
export { KafkaCheckpointStore, type KafkaCheckpointStoreOptions } from './kafka-checkpoint-store';

export interface KafkaStreamLogOptions extends KafkaConnectionOptions {
  /** Stream `readings` is topic `${topicPrefix}readings`. */
  topicPrefix: string;
  /** Partitions of the topics this adapter creates; an existing topic keeps its own count. */
  partitions: number;
  /** Replication factor of created topics. Default: the broker's default.replication.factor. */
  replicationFactor?: number;
  /** retention.ms of created topics. Default: the broker's. */
  retentionMs?: number;
  /** Consumer-group timing for joinGroup() (session timeout, heartbeat). */
  group?: GroupMemberOptions;
  /** Bytes fetched per partition read, kept for the following reads. Default 1 MiB. */
  readAheadBytes?: number;
  /** Largest produce request (sum of keys and values); bigger appends go in several, in order. Default 512 KiB. */
  maxRequestBytes?: number;
  /** How long a read waits at the broker for new records before answering "caught up". Default 0. */
  fetchWaitMs?: number;
}

interface PendingAppend {
  topic: string;
  messages: Message[];
  bytes: number;
  resolve(): void;
  reject(error: Error): void;
}

/** Records of one partition fetched ahead of the reader, valid while it continues where it left off. */
interface ReadAhead {
  nextOffset: bigint;
  records: FetchedRecord[];
  index: number;
}

/** Per-record overhead of the record batch format, counted so requests stay under the limit. */
const RECORD_OVERHEAD_BYTES = 32;

/**
 * The stream log on Apache Kafka (kafkajs). Stream `s` is topic `${topicPrefix}s`, created on
 * first use with `partitions` partitions; a position is the record's Kafka offset as a decimal.
 *
 * - append: an idempotent producer (acks from all in-sync replicas, one request in flight, so
 *   kafkajs's retries after a lost connection neither duplicate nor reorder; see
 *   IdempotentProducer for what happens after a send fails for good). The partition is
 *   chosen here with the embedded log's murmur2 (the Java client's default partitioner), so a
 *   line has the same partition number on both logs. Concurrent appends are grouped into one
 *   produce request (group commit) and each resolves once the broker acknowledged it.
 * - read: a pull read straight from the partition leader (one Fetch request, answered at once
 *   when there is nothing new), with read-ahead: a fetch brings up to `readAheadBytes`, later
 *   reads that continue where the previous one stopped are served from memory. A read from
 *   anywhere else (a seek backwards or forwards, another reader) fetches at that offset and
 *   replaces the read-ahead. Positions below the log start (removed by retention) continue from
 *   the oldest retained record.
 * - committed/commit: the group's committed offsets. Kafka stores the next offset to read, the
 *   port the last one processed: commit(p) stores p + 1, committed() reports offset - 1.
 * - joinGroup: a kafkajs consumer-group member that only takes part in the group protocol.
 */
export class KafkaStreamLog implements StreamLog {
  private readonly kafka: Kafka;
  private readonly logger: KafkaLogger;
  private readonly cluster: ClusterClient;
  private readonly topics: TopicRegistry;
  private readonly producer: IdempotentProducer;
  private readonly members = new Map<string, KafkaGroupMember>();
  private readonly readAhead = new Map<string, ReadAhead>();
  private readonly queue: PendingAppend[] = [];
  private draining: Promise<void> | null = null;
  private admin: Promise<Admin> | null = null;
  private closed = false;

  constructor(private readonly options: KafkaStreamLogOptions) {
    if (!Number.isInteger(options.partitions) || options.partitions < 1) {
      throw new Error(`partitions must be a positive integer, got ${options.partitions}`);
    }
    this.logger = options.logger ?? { warn: (message: string) => console.warn(message) };
    this.kafka = createKafka({ ...options, logger: this.logger });
    this.cluster = new ClusterClient(this.kafka, options.clientId, options.retry, options.fetchWaitMs ?? 0);
    this.topics = new TopicRegistry(() => this.connectAdmin());
    this.producer = new IdempotentProducer(this.kafka);
  }

  /** From KAFKA_BROKERS, KAFKA_CLIENT_ID, KAFKA_TOPIC_PREFIX, KAFKA_SSL, KAFKA_SASL_*, STREAM_PARTITIONS, LOG_RETENTION_HOURS. */
  static fromConfig(config: KafkaConfig, overrides: Partial<KafkaStreamLogOptions> = {}): KafkaStreamLog {
    return new KafkaStreamLog({
      ...kafkaConnectionFromConfig(config),
      topicPrefix: config.KAFKA_TOPIC_PREFIX,
      partitions: config.STREAM_PARTITIONS,
      retentionMs: Math.round(config.LOG_RETENTION_HOURS * 3_600_000),
      ...overrides,
    });
  }

  topicOf(stream: string): string {
    return `${this.options.topicPrefix}${stream}`;
  }

  /** The stream's partition count, creating its topic on first use. */
  async partitionCount(stream: string): Promise<number> {
    this.assertOpen();
    const configEntries = [
      // appendTime is when the log accepted the record, not the producer's clock.
      { name: 'message.timestamp.type', value: 'LogAppendTime' },
      ...(this.options.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(this.options.retentionMs) }]),
    ];
    return this.topics.ensure(this.topicOf(stream), {
      numPartitions: this.options.partitions,
      replicationFactor: this.options.replicationFactor,
      configEntries,
    });
  }

  async append(stream: string, records: readonly AppendRecord[]): Promise<void> {
    this.assertOpen();
    if (records.length === 0) return;
    const count = await this.partitionCount(stream);
    let bytes = 0;
    const messages = records.map((r): Message => {
      bytes += Buffer.byteLength(r.key) + r.value.length + RECORD_OVERHEAD_BYTES;
      return { key: r.key, value: r.value, partition: partitionForKey(r.key, count) };
    });
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic: this.topicOf(stream), messages, bytes, resolve, reject });
      this.kick();
    });
  }

  async partitions(stream: string): Promise<string[]> {
    const count = await this.partitionCount(stream);
    return Array.from({ length: count }, (_, p) => String(p));
  }

  async read(stream: string, partition: string, after: string | null, max: number): Promise<StreamRecord[]> {
    this.assertOpen();
    const p = parsePartitionNumber(partition);
    const count = await this.partitionCount(stream);
    if (p >= count) throw new Error(`stream "${stream}" has no partition ${partition} (it has ${count})`);
    if (max <= 0) return [];
    const topic = this.topicOf(stream);
    const from = after === null ? null : parseOffsetPosition(after) + 1n;
    const key = `${topic}\u0000${p}`;
    let ahead = this.readAhead.get(key);
    if (ahead === undefined || from === null || ahead.nextOffset !== from || ahead.index >= ahead.records.length) {
      const fetched = await this.cluster.fetch(topic, p, from ?? 'earliest', this.options.readAheadBytes ?? 1024 * 1024);
      ahead = { nextOffset: fetched.nextOffset, records: fetched.records, index: 0 };
    }
    const taken = ahead.records.slice(ahead.index, ahead.index + max);
    if (taken.length === 0) {
      this.readAhead.delete(key);
      return [];
    }
    this.readAhead.set(key, { nextOffset: taken[taken.length - 1].offset + 1n, records: ahead.records, index: ahead.index + taken.length });
    return taken.map((r) => ({
      stream,
      partition,
      position: r.offset.toString(),
      key: r.key === null ? '' : r.key.toString('utf8'),
      value: r.value ?? Buffer.alloc(0),
      appendTime: r.timestamp,
    }));
  }

  /** The partition's high watermark minus the next offset after `after` (null: minus its low watermark). */
  async backlog(stream: string, partition: string, after: string | null): Promise<number> {
    this.assertOpen();
    const p = parsePartitionNumber(partition);
    await this.partitionCount(stream);
    const admin = await this.connectAdmin();
    const topic = this.topicOf(stream);
    let offsets: Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
    try {
      offsets = await admin.fetchTopicOffsets(topic);
    } catch (error) {
      throw new Error(`could not read the offsets of ${topic}: ${describeKafkaError(error)}`, { cause: error });
    }
    const found = offsets.find((o) => o.partition === p);
    if (found === undefined) throw new Error(`stream "${stream}" has no partition ${partition}`);
    const next = after === null ? BigInt(found.low) : parseOffsetPosition(after) + 1n;
    const lag = BigInt(found.high) - next;
    return lag > 0n ? Number(lag) : 0;
  }

  async committed(group: string, stream: string): Promise<Map<string, string>> {
    this.assertOpen();
    await this.partitionCount(stream);
    const admin = await this.connectAdmin();
    const topic = this.topicOf(stream);
    let answer: Awaited<ReturnType<Admin['fetchOffsets']>>;
    try {
      answer = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    } catch (error) {
      throw new Error(`could not read the offsets of Kafka group "${group}" on ${topic}: ${describeKafkaError(error)}`, { cause: error });
    }
    const positions = new Map<string, string>();
    for (const { partition, offset } of answer.find((t) => t.topic === topic)?.partitions ?? []) {
      const next = BigInt(offset);
      // -1: nothing committed; 0: "start at the beginning", i.e. nothing processed either.
      if (next > 0n) positions.set(String(partition), (next - 1n).toString());
    }
    return positions;
  }

  async commit(group: string, stream: string, positions: ReadonlyMap<string, string>): Promise<void> {
    this.assertOpen();
    if (positions.size === 0) return;
    await this.partitionCount(stream);
    const topic = this.topicOf(stream);
    const offsets = [...positions].map(([partition, position]) => ({
      partition: parsePartitionNumber(partition),
      offset: (parseOffsetPosition(position) + 1n).toString(),
    }));
    // A group with live members only takes commits from a member of its current generation.
    const member = this.members.get(memberKey(group, topic));
    if (member?.isActive()) await member.commit(offsets);
    else await this.cluster.commitOutsideGroup(group, topic, offsets);
  }

  async joinGroup(group: string, stream: string, listener: GroupListener): Promise<GroupMembership> {
    this.assertOpen();
    await this.partitionCount(stream);
    const topic = this.topicOf(stream);
    const key = memberKey(group, topic);
    if (this.members.has(key)) throw new Error(`this process already joined Kafka group "${group}" on stream "${stream}"`);
    const member = await KafkaGroupMember.join(this.kafka, group, topic, listener, this.logger, this.options.group);
    this.members.set(key, member);
    return {
      owned: () => member.owned(),
      leave: async () => {
        if (this.members.get(key) === member) this.members.delete(key);
        await member.leave();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const members = [...this.members.values()];
    this.members.clear();
    await Promise.allSettled(members.map((m) => m.leave()));
    await this.draining;
    const closing: Promise<unknown>[] = [this.cluster.close(), this.producer.close()];
    if (this.admin) closing.push(this.admin.then((a) => a.disconnect()));
    await Promise.allSettled(closing);
  }

  private kick(): void {
    if (this.draining !== null) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // An append may have queued between the loop's last check and here.
      if (this.queue.length > 0) this.kick();
    });
  }

  /**
   * Sends queued appends one produce request at a time (the idempotent producer keeps order
   * only with one request in flight), grouping whatever queued meanwhile up to maxRequestBytes:
   * a group commit, so many small concurrent appends cost one round trip.
   */
  private async drain(): Promise<void> {
    const limit = this.options.maxRequestBytes ?? 512 * 1024;
    while (this.queue.length > 0) {
      const group: PendingAppend[] = [this.queue.shift()!];
      let bytes = group[0].bytes;
      while (this.queue.length > 0 && bytes + this.queue[0].bytes <= limit) {
        bytes += this.queue[0].bytes;
        group.push(this.queue.shift()!);
      }
      try {
        for (const request of splitIntoRequests(group, limit)) {
          await this.producer.send([...request].map(([topic, messages]) => ({ topic, messages })));
        }
        for (const append of group) append.resolve();
      } catch (error) {
        const topics = [...new Set(group.map((a) => a.topic))].join(', ');
        const failure = new Error(`append to Kafka topic ${topics} failed: ${describeKafkaError(error)}`, { cause: error });
        for (const append of group) append.reject(failure);
      }
    }
  }

  private connectAdmin(): Promise<Admin> {
    if (this.admin === null) {
      const admin = this.kafka.admin();
      const connected = admin.connect().then(() => admin);
      connected.catch(() => {
        if (this.admin === connected) this.admin = null;
      });
      this.admin = connected;
    }
    return this.admin;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the Kafka stream log is closed');
  }
}

function memberKey(group: string, topic: string): string {
  return `${group}\u0000${topic}`;
}

/** Cuts grouped appends into produce requests of at most `limit` bytes, keeping record order. */
function splitIntoRequests(appends: readonly PendingAppend[], limit: number): Map<string, Message[]>[] {
  const requests: Map<string, Message[]>[] = [];
  let current = new Map<string, Message[]>();
  let bytes = 0;
  for (const append of appends) {
    for (const message of append.messages) {
      const size = Buffer.byteLength(message.key as string) + (message.value as Buffer).length + RECORD_OVERHEAD_BYTES;
      if (bytes > 0 && bytes + size > limit) {
        requests.push(current);
        current = new Map();
        bytes = 0;
      }
      const list = current.get(append.topic);
      if (list) list.push(message);
      else current.set(append.topic, [message]);
      bytes += size;
    }
  }
  if (bytes > 0) requests.push(current);
  return requests;
}
