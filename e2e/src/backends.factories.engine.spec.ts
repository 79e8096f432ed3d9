/**
 * The factories that turn configuration into backends (createStreamLog, createCheckpointStore,
 * createReadModel) against the real engines, and the services failing fast, with a message, when
 * a configured engine is unreachable. The end-to-end parity of the backends is
 * backends.parity.engine.spec.ts.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { loadConfig } from '@meterstream/config';
import { createReadModel, SqliteReadModel } from '@meterstream/read-model';
import { ElasticsearchReadModel } from '@meterstream/read-model/elasticsearch';
import { assertElasticsearchUp, ELASTICSEARCH_URL, testClient } from '@meterstream/read-model/elasticsearch/testing';
import { createCheckpointStore, createStreamLog, EmbeddedStreamLog, SqliteCheckpointStore } from '@meterstream/stream';
import { KafkaCheckpointStore, KafkaStreamLog } from '@meterstream/stream/kafka';
import { assertKafkaReachable, testBrokers, uniqueTopicPrefix } from '@meterstream/stream/kafka/testing';
import { buildOnce, makeTempDir, waitFor } from '@meterstream/test-harness';
import { ROOT } from '@meterstream/test-harness';

const KINESIS_ENDPOINT = process.env.KINESIS_ENDPOINT ?? 'http://127.0.0.1:14567';
const MOTO_ENDPOINT = process.env.MOTO_ENDPOINT ?? 'http://127.0.0.1:15000';
process.env.AWS_ACCESS_KEY_ID = 'factories-test';
process.env.AWS_SECRET_ACCESS_KEY = 'factories-test';
delete process.env.AWS_SESSION_TOKEN;

const RUN = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
/** Nothing listens here: connections are refused at once. */
const UNREACHABLE = 'http://127.0.0.1:9';

/** Runs a service's main with extra environment; resolves with its exit code and output once it exits. */
function runService(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, script)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // A service that does not fail would run forever: stop it after a while (the test then fails on the code).
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('backend factories', () => {
  const temp = makeTempDir('meterstream-factories-');
  afterAll(() => temp.cleanup());

  it('createStreamLog and createCheckpointStore: embedded by default, SQLite checkpoints in DATA_DIR', async () => {
    const config = loadConfig({ DATA_DIR: path.join(temp.dir, 'embedded') });
    const log = createStreamLog(config);
    expect(log).toBeInstanceOf(EmbeddedStreamLog);
    await log.append('readings', [{ key: 'L01', value: Buffer.from('x') }]);
    await log.close();
    const store = createCheckpointStore(config);
    expect(store).toBeInstanceOf(SqliteCheckpointStore);
    await store.save('g', '0', 'state');
    await store.close();
    // The same file the embedded log lives in: one data folder per host.
    const again = SqliteCheckpointStore.open(config.databaseFile);
    expect(await again.load('g', '0')).toBe('state');
    await again.close();
  });

  it('STREAM_BACKEND=kafka: a Kafka log and the compacted-topic checkpoint store under KAFKA_TOPIC_PREFIX', async () => {
    await assertKafkaReachable();
    const prefix = uniqueTopicPrefix('factories');
    const config = loadConfig({ STREAM_BACKEND: 'kafka', KAFKA_BROKERS: testBrokers().join(','), KAFKA_TOPIC_PREFIX: prefix, STREAM_PARTITIONS: '2' });
    const log = createStreamLog(config);
    expect(log).toBeInstanceOf(KafkaStreamLog);
    await log.append('readings', [{ key: 'L01', value: Buffer.from('one') }]);
    expect(await log.partitions('readings')).toEqual(['0', '1']);
    expect((log as KafkaStreamLog).topicOf('readings')).toBe(`${prefix}readings`);
    await log.close();

    const store = createCheckpointStore(config);
    expect(store).toBeInstanceOf(KafkaCheckpointStore);
    await store.save('g', '0', 'state');
    await store.close();
    const other = createCheckpointStore(config);
    expect(await other.load('g', '0')).toBe('state');
    await other.close();
  });

  it('STREAM_BACKEND=kinesis: committed positions outlive the log (kept in the DynamoDB lease table, moto)', async () => {
    const config = loadConfig({
      DATA_DIR: path.join(temp.dir, 'kinesis'),
      STREAM_BACKEND: 'kinesis',
      KINESIS_ENDPOINT,
      KINESIS_STREAM_PREFIX: `factories-${RUN}-`,
      KINESIS_SHARDS: '1',
      DYNAMODB_ENDPOINT: MOTO_ENDPOINT,
      KINESIS_LEASE_TABLE: `factories-${RUN}-leases`,
      KINESIS_LEASE_TABLE_CREATE: 'true',
    });
    const log = createStreamLog(config);
    await log.append('alerts', [{ key: 'L01', value: Buffer.from('a1') }]);
    const [shard] = await log.partitions('alerts');
    const [record] = await log.read('alerts', shard, null, 10);
    expect(record.value.toString()).toBe('a1');
    // Commits are fenced by the leases: only the group member holding the shard may commit it.
    const membership = await log.joinGroup('alert-channel:mqtt', 'alerts', { assigned: async () => undefined, revoked: async () => undefined });
    await waitFor(() => membership.owned().includes(shard) || undefined, { what: 'the shard lease', timeoutMs: 60_000 });
    await log.commit('alert-channel:mqtt', 'alerts', new Map([[shard, record.position]]));
    await membership.leave();
    await log.close();

    // A restarted process (the alert dispatcher's positions, say) finds the commit again.
    const restarted = createStreamLog(config);
    expect(await restarted.committed('alert-channel:mqtt', 'alerts')).toEqual(new Map([[shard, record.position]]));
    await restarted.close();
  });

  it('createReadModel: SQLite by default; READ_MODEL_BACKEND=elasticsearch installs the indices before it resolves', async () => {
    const sqlite = await createReadModel(loadConfig({ DATA_DIR: path.join(temp.dir, 'read-model') }));
    expect(sqlite).toBeInstanceOf(SqliteReadModel);
    await sqlite.close();

    const client = testClient();
    await assertElasticsearchUp(client);
    const prefix = `msfactories-${RUN}-`;
    const model = await createReadModel(loadConfig({ READ_MODEL_BACKEND: 'elasticsearch', ELASTICSEARCH_URL, ELASTICSEARCH_INDEX_PREFIX: prefix }));
    try {
      expect(model).toBeInstanceOf(ElasticsearchReadModel);
      const names = (model as ElasticsearchReadModel).indices;
      // No write yet: the single indices exist because migrate() ran.
      expect((await client.indices.exists({ index: names.single('alerts') })) as boolean).toBe(true);
      expect(await model.lines()).toEqual([]);
    } finally {
      await model.close();
      const rows = (await client.cat.indices({ index: `${prefix}*`, format: 'json', h: 'index' })) as { index: string }[];
      if (rows.length > 0) await client.indices.delete({ index: rows.map((r) => r.index) });
      await client.close();
    }
  });

  it('createReadModel rejects, naming the setting, when Elasticsearch is unreachable', async () => {
    await expect(createReadModel(loadConfig({ READ_MODEL_BACKEND: 'elasticsearch', ELASTICSEARCH_URL: UNREACHABLE }))).rejects.toThrow(
      `READ_MODEL_BACKEND=elasticsearch: could not prepare the indices at ${UNREACHABLE}`,
    );
  });

  it('the stream processor and the query API exit 1 with that message instead of running without their read model', async () => {
    buildOnce();
    const env = { DATA_DIR: path.join(temp.dir, 'services'), READ_MODEL_BACKEND: 'elasticsearch', ELASTICSEARCH_URL: UNREACHABLE, ALERT_CHANNELS: '', PORT: '0' };
    const processor = await runService('dist/apps/stream-processor/src/main.js', { ...env, STREAM_BACKEND: 'kafka', KAFKA_BROKERS: testBrokers().join(','), KAFKA_TOPIC_PREFIX: uniqueTopicPrefix('factories') });
    expect(processor.output).toContain('stream-processor failed to start: READ_MODEL_BACKEND=elasticsearch: could not prepare the indices');
    expect(processor.code).toBe(1);
    const api = await runService('dist/apps/query-api/src/main.js', env);
    expect(api.output).toContain('query API failed to start: READ_MODEL_BACKEND=elasticsearch: could not prepare the indices');
    expect(api.code).toBe(1);
  });
});
