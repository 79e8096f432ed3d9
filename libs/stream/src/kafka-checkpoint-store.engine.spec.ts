import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { KafkaCheckpointStore } from './kafka-checkpoint-store';
import { assertKafkaReachable, collectingLogger, testBrokers, uniqueTopicPrefix } from './kafka/testing/kafka-test-env';

describe('KafkaCheckpointStore against a Kafka broker', () => {
  const topic = `${uniqueTopicPrefix('checkpoints')}_checkpoints`;
  const stores: KafkaCheckpointStore[] = [];
  const open = (): KafkaCheckpointStore => {
    const store = new KafkaCheckpointStore({ brokers: testBrokers(), clientId: 'checkpoint-spec', topic, logger: collectingLogger() });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    await assertKafkaReachable();
  });

  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });

  it('loads null for a partition never saved, then the newest save of each (group, partition)', async () => {
    const store = open();
    expect(await store.load('processor', '0')).toBeNull();
    await store.save('processor', '0', '{"position":"10"}');
    await store.save('processor', '1', '{"position":"3"}');
    await store.save('processor', '0', '{"position":"11"}');
    await store.save('other-group', '0', '{"position":"99"}');
    expect(await store.load('processor', '0')).toBe('{"position":"11"}');
    expect(await store.load('processor', '1')).toBe('{"position":"3"}');
    expect(await store.load('other-group', '0')).toBe('{"position":"99"}');
    expect(await store.load('processor', '2')).toBeNull();
  });

  it('shows a second instance what the first saved, including saves after its own last read', async () => {
    const owner = open();
    const successor = open();
    await owner.save('handover', '5', 'state-1');
    expect(await successor.load('handover', '5')).toBe('state-1');
    // The old owner keeps working after the successor last looked; its last save must win.
    for (let i = 2; i <= 30; i++) await owner.save('handover', '5', `state-${i}`);
    expect(await successor.load('handover', '5')).toBe('state-30');
    // A fresh instance (a restarted processor) reads the whole topic from the start.
    expect(await open().load('handover', '5')).toBe('state-30');
  });

  it('keeps large checkpoints whole and loads concurrently without losing saves', async () => {
    const store = open();
    const big = 'x'.repeat(3 * 1024 * 1024);
    await store.save('big', '0', big);
    const reader = open();
    const loads = await Promise.all([reader.load('big', '0'), reader.load('handover', '5'), reader.load('big', '0')]);
    expect(loads[0]).toHaveLength(big.length);
    expect(loads[1]).toBe('state-30');
    expect(loads[2]).toBe(loads[0]);
  });

  it('creates its topic compacted, with one partition', async () => {
    open();
    const kafka = new Kafka({ clientId: 'checkpoint-spec-admin', brokers: testBrokers(), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata.topics[0].partitions).toHaveLength(1);
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
      });
      expect(resources[0].configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue).toBe('compact');
    } finally {
      await admin.disconnect();
    }
  });
});
