import { loadConfig } from '@meterstream/config';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { KafkaCheckpointStore } from './kafka-checkpoint-store';
import { KafkaStreamLog, kafkaConnectionFromConfig } from './kafka';
import { parseOffsetPosition, parsePartitionNumber } from './kafka/connection';
import { partitionForKey } from './partitioner';

const metadata = (count: number): PartitionMetadata[] =>
  Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));

describe('Kafka adapter (no broker)', () => {
  it('chooses the same partition for a key as kafkajs’s default (Java-compatible murmur2) partitioner', () => {
    const kafkajsPartitioner = Partitioners.DefaultPartitioner();
    for (const count of [1, 3, 8, 12, 64]) {
      for (let i = 0; i < 500; i++) {
        const key = i % 2 === 0 ? `L${String(i).padStart(2, '0')}` : `m-${i * 7919}-ü`;
        const theirs = kafkajsPartitioner({ topic: 't', partitionMetadata: metadata(count), message: { key, value: null } });
        expect(partitionForKey(key, count)).toBe(theirs);
      }
    }
  });

  it('reads brokers, client id, TLS and SASL credentials from configuration', () => {
    const config = loadConfig({
      KAFKA_BROKERS: ' b1:9092, b2:9092 ,',
      KAFKA_CLIENT_ID: 'meters',
      KAFKA_SSL: 'true',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 'secret',
    });
    expect(kafkaConnectionFromConfig(config)).toEqual({
      brokers: ['b1:9092', 'b2:9092'],
      clientId: 'meters',
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'svc', password: 'secret' },
    });
    expect(kafkaConnectionFromConfig(loadConfig({})).sasl).toBeUndefined();
  });

  it('refuses a SASL user without a password and an empty broker list', () => {
    expect(() => kafkaConnectionFromConfig(loadConfig({ KAFKA_SASL_USERNAME: 'svc' }))).toThrow(/KAFKA_SASL_PASSWORD/);
    expect(() => kafkaConnectionFromConfig(loadConfig({ KAFKA_BROKERS: ' , ' }))).toThrow(/KAFKA_BROKERS/);
  });

  it('names topics by prefix and stream, and builds from configuration without connecting', async () => {
    const config = loadConfig({ KAFKA_TOPIC_PREFIX: 'ms.', STREAM_PARTITIONS: '6' });
    const log = KafkaStreamLog.fromConfig(config);
    expect(log.topicOf('readings')).toBe('ms.readings');
    await log.close();
    await expect(log.read('readings', '0', null, 1)).rejects.toThrow(/closed/);
    const store = KafkaCheckpointStore.fromConfig(config);
    await store.close();
    await expect(store.load('g', '0')).rejects.toThrow(/closed/);
  });

  it('fails with a message naming the step when no broker answers', async () => {
    const unreachable = {
      brokers: ['127.0.0.1:1'],
      clientId: 'spec',
      retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 },
      logger: { warn: () => undefined },
    };
    const log = new KafkaStreamLog({ ...unreachable, topicPrefix: 't.', partitions: 2 });
    await expect(log.append('readings', [{ key: 'L1', value: Buffer.from('x') }])).rejects.toThrow(
      /could not create Kafka topic "t\.readings": .*ECONNREFUSED 127\.0\.0\.1:1/,
    );
    await log.close();
    const store = new KafkaCheckpointStore({ ...unreachable, topic: 't._checkpoints' });
    await expect(store.load('g', '0')).rejects.toThrow(/could not create Kafka topic "t\._checkpoints": .*ECONNREFUSED/);
    await store.close();
  });

  it('accepts only decimal offsets as positions and partition numbers as partitions', () => {
    expect(parseOffsetPosition('0')).toBe(0n);
    expect(parseOffsetPosition('9007199254740993')).toBe(9007199254740993n);
    for (const bad of ['', '-1', '1.5', '12.3', 'abc', ' 1']) expect(() => parseOffsetPosition(bad)).toThrow(/not a Kafka position/);
    expect(parsePartitionNumber('7')).toBe(7);
    expect(() => parsePartitionNumber('shardId-000')).toThrow(/not a Kafka partition/);
  });
});
