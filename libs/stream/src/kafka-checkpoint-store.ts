import type { KafkaConfig } from '@meterstream/config';
import type { Admin, Kafka } from 'kafkajs';
import type { PartitionCheckpointStore } from './checkpoint-store';
import { ClusterClient } from './kafka/cluster-client';
import { createKafka, kafkaConnectionFromConfig, TopicRegistry, type KafkaConnectionOptions } from './kafka/connection';
import { IdempotentProducer } from './kafka/idempotent-producer';

export interface KafkaCheckpointStoreOptions extends KafkaConnectionOptions {
  /** The compacted topic holding the checkpoints (created on first use, one partition). */
  topic: string;
  /** Replication factor of the topic when created. Default: the broker's. */
  replicationFactor?: number;
  /** Largest checkpoint the topic accepts (max.message.bytes). Default 16 MiB. */
  maxCheckpointBytes?: number;
}

/**
 * Processor checkpoints in a compacted Kafka topic, one record per save keyed
 * `${group}/${partition}`: compaction keeps at least the newest record of every key, so the topic
 * stays about as large as the checkpoints themselves.
 *
 * load() first reads the topic from where this instance stopped up to its current end (the
 * high watermark, below which every acknowledged save lies), then answers from what it read.
 * So a new owner of a partition sees the old owner's last acknowledged save, even when that
 * save came from another process after this one last looked. The first load reads the whole
 * (compacted) topic once; later ones read only what was saved since: one Fetch request when
 * nothing was. save() resolves once all in-sync replicas have the record.
 *
 * One partition: a total order of saves, so "newest wins" is simply "last in the topic".
 */
export class KafkaCheckpointStore implements PartitionCheckpointStore {
  private readonly kafka: Kafka;
  private readonly cluster: ClusterClient;
  private readonly topics: TopicRegistry;
  private readonly producer: IdempotentProducer;
  private readonly latest = new Map<string, string>();
  /** Where the next catch-up read starts; null before the first (the topic's oldest record). */
  private nextOffset: bigint | null = null;
  private catchUps: Promise<unknown> = Promise.resolve();
  private admin: Promise<Admin> | null = null;
  private closed = false;

  constructor(private readonly options: KafkaCheckpointStoreOptions) {
    this.kafka = createKafka(options);
    this.cluster = new ClusterClient(this.kafka, options.clientId, options.retry);
    this.producer = new IdempotentProducer(this.kafka);
    this.topics = new TopicRegistry(() => {
      if (this.admin === null) {
        const admin = this.kafka.admin();
        const connected = admin.connect().then(() => admin);
        connected.catch(() => {
          if (this.admin === connected) this.admin = null;
        });
        this.admin = connected;
      }
      return this.admin;
    });
  }

  /** Topic `${KAFKA_TOPIC_PREFIX}_checkpoints` (the underscore keeps it apart from stream topics). */
  static fromConfig(config: KafkaConfig, overrides: Partial<KafkaCheckpointStoreOptions> = {}): KafkaCheckpointStore {
    return new KafkaCheckpointStore({ ...kafkaConnectionFromConfig(config), topic: `${config.KAFKA_TOPIC_PREFIX}_checkpoints`, ...overrides });
  }

  async load(group: string, partition: string): Promise<string | null> {
    this.assertOpen();
    // Each load reads to the end as of its own call, after any catch-up already running.
    const caughtUp = this.catchUps.then(() => this.readToEnd());
    this.catchUps = caughtUp.catch(() => undefined);
    await caughtUp;
    return this.latest.get(checkpointKey(group, partition)) ?? null;
  }

  async save(group: string, partition: string, checkpoint: string): Promise<void> {
    this.assertOpen();
    await this.ensureTopic();
    try {
      const message = { key: checkpointKey(group, partition), value: checkpoint, partition: 0 };
      await this.producer.send([{ topic: this.options.topic, messages: [message] }]);
    } catch (error) {
      throw new Error(`could not save the checkpoint of ${checkpointKey(group, partition)} to Kafka topic ${this.options.topic}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.catchUps;
    await Promise.allSettled([this.producer.close(), this.cluster.close(), this.admin?.then((a) => a.disconnect())]);
  }

  private async readToEnd(): Promise<void> {
    await this.ensureTopic();
    for (;;) {
      const fetched = await this.cluster.fetch(this.options.topic, 0, this.nextOffset ?? 'earliest', 4 * 1024 * 1024);
      for (const record of fetched.records) {
        if (record.key === null) continue;
        const key = record.key.toString('utf8');
        // A null value is a tombstone (compaction's delete): nothing saved for the key any more.
        if (record.value === null) this.latest.delete(key);
        else this.latest.set(key, record.value.toString('utf8'));
      }
      this.nextOffset = fetched.nextOffset;
      if (fetched.nextOffset >= fetched.highWatermark) return;
    }
  }

  private ensureTopic(): Promise<number> {
    const maxBytes = this.options.maxCheckpointBytes ?? 16 * 1024 * 1024;
    return this.topics.ensure(this.options.topic, {
      numPartitions: 1,
      replicationFactor: this.options.replicationFactor,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'max.message.bytes', value: String(maxBytes) },
        // Compact within the hour so a cold start reads few superseded checkpoints.
        { name: 'segment.ms', value: String(60 * 60 * 1000) },
        { name: 'min.cleanable.dirty.ratio', value: '0.1' },
      ],
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the Kafka checkpoint store is closed');
  }
}

function checkpointKey(group: string, partition: string): string {
  return `${group}/${partition}`;
}
