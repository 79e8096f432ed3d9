import type { StreamConfig } from '@meterstream/config';
import type { PartitionCheckpointStore } from './checkpoint-store';
import { EmbeddedStreamLog } from './embedded';
import { SqliteCheckpointStore } from './sqlite-checkpoint-store';
import type { StreamLog } from './stream-log';

// Types only: the modules themselves are required inside their branches below, so a service on
// the embedded default never loads kafkajs or the AWS SDK through this factory.
type KafkaModule = typeof import('./kafka');
type KafkaCheckpointStoreModule = typeof import('./kafka-checkpoint-store');
type KinesisModule = typeof import('./kinesis');

export interface CreateStreamLogOptions {
  /**
   * Kinesis only: the processor's checkpoint store (createCheckpointStore), whose lease table
   * the log then shares: the checkpoints are fenced by the leases the log's group holds. Without
   * one the log opens its own connection to the lease table and closes it with itself.
   */
  checkpointStore?: PartitionCheckpointStore;
}

/**
 * Picks the stream adapter from STREAM_BACKEND; callers only see the StreamLog port.
 *
 * - embedded (default): the SQLite log in DATA_DIR/meterstream.db (STREAM_PARTITIONS, LOG_SYNC).
 * - kafka: KafkaStreamLog.fromConfig (KAFKA_BROKERS, KAFKA_CLIENT_ID, KAFKA_TOPIC_PREFIX,
 *   KAFKA_SSL, KAFKA_SASL_*, STREAM_PARTITIONS for topics it creates, LOG_RETENTION_HOURS).
 * - kinesis: KinesisStreamLog.fromConfig (AWS_REGION, KINESIS_ENDPOINT, KINESIS_STREAM_PREFIX,
 *   KINESIS_SHARDS; groups and their positions in the DynamoDB lease table KINESIS_LEASE_*,
 *   DYNAMODB_ENDPOINT); credentials from the AWS SDK's default chain.
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
      const { KinesisStreamLog, DynamoCheckpointStore } = require('./kinesis') as KinesisModule;
      const leases = options.checkpointStore instanceof DynamoCheckpointStore ? options.checkpointStore.leases : undefined;
      return KinesisStreamLog.fromConfig(config, { leases });
    }
  }
}

/**
 * The shared partition checkpoint store of the distributed stream processor, picked by
 * STREAM_BACKEND:
 *
 * - kafka: a compacted topic `${KAFKA_TOPIC_PREFIX}_checkpoints` (KafkaCheckpointStore): every
 *   instance reaches it wherever it runs.
 * - kinesis: the DynamoDB lease table (DynamoCheckpointStore): each save is fenced by the lease
 *   this process holds on the shard, so hand the store to createStreamLog (checkpointStore) for the
 *   log to share its leases.
 * - embedded: SQLite in DATA_DIR (the meterstream.db file, table partition_checkpoints), for
 *   tooling; the embedded processor builds its SqliteCheckpointStore on its own database handle
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
  if (config.STREAM_BACKEND === 'kinesis') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { DynamoCheckpointStore, leaseManagerFromConfig } = require('./kinesis') as KinesisModule;
    return new DynamoCheckpointStore(leaseManagerFromConfig(config), true);
  }
  return SqliteCheckpointStore.open(config.databaseFile);
}
