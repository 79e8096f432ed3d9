/**
 * The stream port: a durable, partitioned, append-only log. Shaped so that the embedded SQLite
 * log, Kinesis (shards, sequence numbers, iterators) and Kafka (partitions, offsets, consumer
 * groups) all fit behind it without their callers changing:
 *
 * - a record's partition is chosen by its key (the lineId): per-key order is kept;
 * - partitions are named by strings (a Kafka partition number, a Kinesis shard id);
 * - a position is an opaque string that only the adapter interprets (an offset, a sequence
 *   number); callers store it and hand it back, never do arithmetic on it;
 * - consumer groups commit positions; a processor that checkpoints its own state stores the
 *   positions in its checkpoint instead and commits them only as a courtesy to tooling.
 */
export interface AppendRecord {
  /** Partition key: records with the same key land in the same partition, in append order. */
  key: string;
  value: Buffer;
}

export interface StreamRecord {
  stream: string;
  partition: string;
  position: string;
  key: string;
  value: Buffer;
  /** When the log accepted the record (epoch ms). */
  appendTime: number;
}

export interface StreamLog {
  /**
   * Appends records to a stream. Resolves only once every record is durable (acknowledging the
   * source is safe after that); rejects if any record could not be stored.
   */
  append(stream: string, records: readonly AppendRecord[]): Promise<void>;

  /** The partitions of a stream, in a stable order. */
  partitions(stream: string): Promise<string[]>;

  /**
   * Reads up to `max` records of one partition strictly after `after` (null: from the oldest
   * record still retained), in order. An empty result means the reader is caught up.
   */
  read(stream: string, partition: string, after: string | null, max: number): Promise<StreamRecord[]>;

  /**
   * How many records of a partition follow position `after` (null: every record retained): the
   * consumer lag of a reader there (the log's end minus its position), for metrics. Asks the
   * engine each time. Null when the engine cannot count records between two positions: Kinesis
   * sequence numbers are not dense (its lag is a time, the iterator age / MillisBehindLatest).
   */
  backlog(stream: string, partition: string, after: string | null): Promise<number | null>;

  /** The positions a consumer group committed, by partition. */
  committed(group: string, stream: string): Promise<Map<string, string>>;

  /** Commits a consumer group's positions (the last record processed, per partition). */
  commit(group: string, stream: string, positions: ReadonlyMap<string, string>): Promise<void>;

  /**
   * Joins consumer group `group` on `stream`: the adapter spreads the stream's partitions over the
   * group's live members and tells this member which it owns, now and after every change
   * (a member joined, left or died). Embedded log: one member owns every partition. Kafka: a
   * kafkajs consumer group. Kinesis: leases in a DynamoDB table, KCL-style.
   */
  joinGroup(group: string, stream: string, listener: GroupListener): Promise<GroupMembership>;

  close(): Promise<void>;
}

export interface GroupListener {
  /** Partitions this member now owns: load their checkpoints before reading them. */
  assigned(partitions: string[]): Promise<void>;
  /** Partitions taken away: stop reading them; resolve once no batch of theirs is in flight. */
  revoked(partitions: string[]): Promise<void>;
}

export interface GroupMembership {
  /** The partitions this member owns right now. */
  owned(): string[];
  /** Leaves the group (its partitions go to the other members). */
  leave(): Promise<void>;
}
