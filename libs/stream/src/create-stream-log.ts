import type { StreamConfig } from '@meterstream/config';
import type { PartitionCheckpointStore } from './checkpoint-store';
import { EmbeddedStreamLog } from './embedded';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store';
import type { AppendRecord, GroupListener, GroupMembership, StreamLog, StreamRecord } from './stream-log';

// Types only: the modules themselves are required inside their branches below, so a service on
// the embedded default never loads kafkajs or the AWS SDK through this factory.
type KafkaModule = typeof import('./kafka');
type KafkaCheckpointStoreModule = typeof import('./kafka-checkpoint-store');
type KinesisModule = typeof import('./kinesis');

export interface CreateStreamLogOptions {
  /**
   * Kinesis only: where the log keeps the positions consumer groups commit (Kinesis has no
   * group offsets of its own). The processor passes its checkpoint store (createCheckpointStore)
   * and keeps owning it. Without one the log opens createCheckpointStore(config) itself and
   * closes it with the log, so commits (alert-channel positions, lag tooling) survive a restart.
   */
  positionStore?: PartitionCheckpointStore;
}

/**
 * Picks the stream adapter from STREAM_BACKEND; callers only see the StreamLog port.
 *
 * - embedded (default): the SQLite log in DATA_DIR/meterstream.db (STREAM_PARTITIONS, LOG_SYNC).
 * - kafka: KafkaStreamLog.fromConfig (KAFKA_BROKERS, KAFKA_CLIENT_ID, KAFKA_TOPIC_PREFIX,
 *   KAFKA_SSL, KAFKA_SASL_*, STREAM_PARTITIONS for topics it creates, LOG_RETENTION_HOURS).
 * - kinesis: KinesisStreamLog.fromConfig (AWS_REGION, KINESIS_ENDPOINT, KINESIS_STREAM_PREFIX,
 *   KINESIS_SHARDS, PROCESSOR_INSTANCE(S)); credentials from the AWS SDK's default chain.
 */
export function createStreamLog(config: StreamConfig, options: CreateStreamLogOptions = {}): StreamLog {
  switch (config.STREAM_BACKEND) {
    case 'embedded':
      return EmbeddedStreamLog.open(config.databaseFile, { partitions: config.STREAM_PARTITIONS, synchronous: config.LOG_SYNC });
    case 'kafka': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { KafkaStreamLog } = require('./kafka') as KafkaModule;
      return KafkaStreamLog.fromConfig(config);
    }
    case 'kinesis': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { KinesisStreamLog } = require('./kinesis') as KinesisModule;
      if (options.positionStore) return KinesisStreamLog.fromConfig(config, { positionStore: options.positionStore });
      const positionStore = createCheckpointStore(config);
      return new StreamLogWithResources(KinesisStreamLog.fromConfig(config, { positionStore }), [positionStore]);
    }
  }
}

/**
 * The shared partition checkpoint store of the distributed stream processor (and the Kinesis
 * log's committed positions), picked by STREAM_BACKEND:
 *
 * - kafka: a compacted topic `${KAFKA_TOPIC_PREFIX}_checkpoints` (KafkaCheckpointStore): every
 *   instance reaches it wherever it runs, so this is the store for several hosts (ECS).
 * - kinesis, embedded: SQLite in DATA_DIR (the meterstream.db file, table
 *   partition_checkpoints). Several processor instances on ONE host share it (WAL, busy
 *   timeout). It does NOT work for Kinesis processors on several hosts (ECS tasks): each task
 *   would have its own file, so a shard's checkpoint and the committed positions a child shard
 *   waits for would not be seen by another task, and SQLite on a network filesystem does not
 *   lock reliably. A multi-host Kinesis deployment needs a shared store (a database every task
 *   reaches, e.g. a DynamoDB adapter of PartitionCheckpointStore, which does not exist yet) or
 *   Kafka. The embedded processor builds its SqliteCheckpointStore on its own database handle
 *   instead, so that its checkpoints commit in the same transaction as its outputs.
 *
 * The caller owns the store and closes it.
 */
export function createCheckpointStore(config: StreamConfig): PartitionCheckpointStore {
  if (config.STREAM_BACKEND === 'kafka') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { KafkaCheckpointStore } = require('./kafka-checkpoint-store') as KafkaCheckpointStoreModule;
    return KafkaCheckpointStore.fromConfig(config);
  }
  return SqliteCheckpointStore.open(config.databaseFile);
}

/** A log that also closes what was opened for it (a position store nobody else holds). */
class StreamLogWithResources implements StreamLog {
  constructor(
    private readonly log: StreamLog,
    private readonly resources: readonly { close(): Promise<void> }[],
  ) {}

  append(stream: string, records: readonly AppendRecord[]): Promise<void> {
    return this.log.append(stream, records);
  }

  partitions(stream: string): Promise<string[]> {
    return this.log.partitions(stream);
  }

  read(stream: string, partition: string, after: string | null, max: number): Promise<StreamRecord[]> {
    return this.log.read(stream, partition, after, max);
  }

  backlog(stream: string, partition: string, after: string | null): Promise<number | null> {
    return this.log.backlog(stream, partition, after);
  }

  committed(group: string, stream: string): Promise<Map<string, string>> {
    return this.log.committed(group, stream);
  }

  commit(group: string, stream: string, positions: ReadonlyMap<string, string>): Promise<void> {
    return this.log.commit(group, stream, positions);
  }

  joinGroup(group: string, stream: string, listener: GroupListener): Promise<GroupMembership> {
    return this.log.joinGroup(group, stream, listener);
  }

  async close(): Promise<void> {
    try {
      await this.log.close();
    } finally {
      await Promise.allSettled(this.resources.map((r) => r.close()));
    }
  }
}
