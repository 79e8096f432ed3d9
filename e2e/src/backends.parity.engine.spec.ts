/**
 * Backend parity: the services pick their backends from configuration alone (STREAM_BACKEND,
 * READ_MODEL_BACKEND, TIMESERIES_BACKEND), and what they compute does not depend on the choice.
 *
 * One labelled simulator run (6 lines × 20 meters, 2 simulated hours every 15 s, a sag on L02, a
 * stuck meter on L04, duplicates, out-of-order, late and malformed messages) goes through the
 * ingest bridge's logic into the `readings` and `dead-letters` streams of three logs, each built
 * by createStreamLog(config):
 *   (a) the embedded log, processed in process by the processor with the embedded transaction
 *       commit;
 *   (b) Kinesis on kinesalite (4 shards, not 8: another partitioning), processed by the real
 *       stream-processor main.js with STREAM_BACKEND=kinesis, a SQLite read model and the
 *       Timestream sink on moto;
 *   (c) Kafka, processed by the real main.js with STREAM_BACKEND=kafka, the Elasticsearch read
 *       model and the SQLite time-series sink.
 * The `aggregates`, `alerts` and `late-readings` streams must be identical (deduplicated by
 * envelope id — the flush-then-checkpoint commit is at least once — compared per key in order and as
 * sets), and (d) the query API must answer the same over every read model: in process over
 * SQLite (a, b), and the real query-api main.js with READ_MODEL_BACKEND=elasticsearch over (c),
 * whose alert commands go to Kafka's `alert-commands` stream and reach Elasticsearch through the
 * Kafka processor.
 *
 * Engines: bash scripts/engines/up.sh (kafka elasticsearch kinesalite moto). Every name is unique
 * per run, so concurrent runs never meet.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { loadConfig, type Config } from '@meterstream/config';
import { decodeEnvelope, STREAMS, type AlertCommandEnvelope, type AlertEnvelope, type Envelope } from '@meterstream/contracts';
import type { InboundMessage } from '@meterstream/mqtt';
import { createReadModel, SqliteReadModel } from '@meterstream/read-model';
import { assertElasticsearchUp, ELASTICSEARCH_URL, testClient } from '@meterstream/read-model/elasticsearch/testing';
import { fleetLayout, generateMessages, type SimulatorOptions } from '@meterstream/simulator';
import { createCheckpointStore, createStreamLog, openEmbeddedDatabase, type StreamLog } from '@meterstream/stream';
import { assertKafkaReachable, testBrokers, uniqueTopicPrefix } from '@meterstream/stream/kafka/testing';
import { SqliteTimeSeriesSink } from '@meterstream/timeseries';
import { MOTO_ENDPOINT, motoTimestreamRecords, requireMoto } from '@meterstream/timeseries/testing';
import { buildOnce, makeTempDir, waitFor, forEachOutputLine } from '@meterstream/test-harness';
import { Ingest } from '@meterstream/ingest';
import { createApiApp } from '../../apps/query-api/src/create-api-app';
import { decodeCheckpoint } from '@meterstream/processing';
import { deduplicate } from '../../apps/stream-processor/src/runtime/testing/recorded-run';
import { processorGroup } from '../../apps/stream-processor/src/processor.module';
import { createEmbeddedStreamProcessor } from '../../apps/stream-processor/src/runtime';
import { ROOT } from '@meterstream/test-harness';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const START = Date.parse('2026-03-02T05:00:00Z');
const KINESIS_ENDPOINT = process.env.KINESIS_ENDPOINT ?? 'http://127.0.0.1:14567';
// Dummy credentials for kinesalite and moto (they check that requests are signed, not by whom); the children inherit them.
process.env.AWS_ACCESS_KEY_ID = 'parity-test';
process.env.AWS_SECRET_ACCESS_KEY = 'parity-test';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;

const STUCK_LINE = 'L04';
const FLEET_BASE: SimulatorOptions = { seed: 17, lines: 6, metersPerLine: 20, intervalMs: 15_000, start: START, durationMs: 2 * HOUR, faults: 'none' };
const STUCK_METER = fleetLayout(FLEET_BASE).find((line) => line.lineId === STUCK_LINE)!.meters[13].deviceId;
const FLEET: SimulatorOptions = {
  ...FLEET_BASE,
  faults: [
    { kind: 'sag', lineId: 'L02', start: START + 40 * MINUTE, end: START + 52 * MINUTE, params: { deltaV: 12 } },
    { kind: 'stuck', lineId: STUCK_LINE, deviceId: STUCK_METER, start: START + 30 * MINUTE, end: START + 80 * MINUTE },
    { kind: 'duplicate', probability: 0.01 },
    { kind: 'out-of-order', probability: 0.02, params: { minDelayMs: 1_000, maxDelayMs: 8_000 } },
    { kind: 'late', probability: 0.001 },
    { kind: 'malformed', probability: 0.002 },
  ],
};
const LINE_IDS = ['L01', 'L02', 'L03', 'L04', 'L05', 'L06'];
/** Messages per bridge batch (the bridge's BRIDGE_BATCH_MAX default). */
const BRIDGE_BATCH = 2000;
const OUTPUT_STREAMS = [STREAMS.aggregates, STREAMS.alerts, STREAMS.lateReadings] as const;

/** The simulator's messages, once: every backend gets exactly these, in this order. */
const MESSAGES = [...generateMessages(FLEET)];

/**
 * Appends the messages the way the ingest bridge does (its own logic, minus MQTT), with each
 * batch's ingest time pinned to simulated time so every log holds byte-identical records.
 */
async function ingest(log: StreamLog, config: Config): Promise<{ readings: number; deadLetters: number }> {
  let now = 0;
  const bridge = new Ingest(log, { maxFutureSkewMs: config.MAX_CLOCK_SKEW_MS, now: () => now });
  for (let i = 0; i < MESSAGES.length; i += BRIDGE_BATCH) {
    const batch = MESSAGES.slice(i, i + BRIDGE_BATCH);
    now = batch[batch.length - 1].simTime + 500;
    await bridge.ingest(batch.map((m): InboundMessage => ({ topic: m.topic, payload: m.payload, qos: 1 })));
  }
  return { readings: bridge.counters.readings, deadLetters: bridge.counters.deadLetters };
}

/** Every record of a stream, per partition in log order. */
async function readAll(log: StreamLog, stream: string): Promise<Map<string, { key: string; value: string; position: string }[]>> {
  const out = new Map<string, { key: string; value: string; position: string }[]>();
  for (const partition of await log.partitions(stream)) {
    const records: { key: string; value: string; position: string }[] = [];
    let after: string | null = null;
    for (;;) {
      const batch = await log.read(stream, partition, after, 10_000);
      if (batch.length === 0) break;
      for (const r of batch) records.push({ key: r.key, value: r.value.toString(), position: r.position });
      after = batch[batch.length - 1].position;
    }
    out.set(partition, records);
  }
  return out;
}

/** The output streams by `${stream}/${key}` (a line lives in one partition, whichever the backend chose), in log order. */
async function outputsOf(log: StreamLog): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const stream of OUTPUT_STREAMS) {
    for (const records of (await readAll(log, stream)).values()) {
      for (const r of records) (out[`${stream}/${r.key}`] ??= []).push(r.value);
    }
  }
  return out;
}

/** A stream's records as a sorted list, whatever their key and partition. */
function asSet(outputs: Record<string, string[]>, stream: string): string[] {
  return Object.entries(outputs)
    .filter(([key]) => key.startsWith(`${stream}/`))
    .flatMap(([, values]) => values)
    .sort();
}

/** A service process; its log lines are kept for assertions and failure messages. */
class ServiceProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];

  constructor(
    readonly name: string,
    script: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, [path.join(ROOT, script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    forEachOutputLine(this.child, (line) => this.lines.push(line));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  output(): string {
    return this.lines.slice(-40).join('\n');
  }

  /** Throws (with the output) when the process died. */
  alive(): true {
    if (this.exited) throw new Error(`${this.name} exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.output()}`);
    return true;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** Waits until the processor's checkpoint of every readings partition holds that partition's last position. */
async function waitUntilCaughtUp(processor: ServiceProcess, config: Config, log: StreamLog): Promise<void> {
  const ends = new Map<string, string>();
  for (const [partition, records] of await readAll(log, STREAMS.readings)) if (records.length > 0) ends.set(partition, records[records.length - 1].position);
  const checkpoints = createCheckpointStore(config);
  const group = processorGroup(config);
  try {
    await waitFor(
      async () => {
        processor.alive();
        const behind: string[] = [];
        for (const [partition, end] of ends) {
          const saved = decodeCheckpoint(partition, await checkpoints.load(group, partition)).position;
          if (saved !== end) behind.push(`${partition} at ${saved} of ${end}`);
        }
        if (behind.length > 0) throw new Error(`${processor.name}: ${behind.join(', ')}`);
        return true;
      },
      { what: `${processor.name} to checkpoint the end of every readings partition`, timeoutMs: 300_000, intervalMs: 500 },
    );
  } finally {
    await checkpoints.close();
  }
}

/** Runs one set-up step, naming it in the error: engine failures otherwise say only what the SDK saw. */
async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The answers of the read endpoints the dashboard and operators use, by path. */
function apiPaths(): string[] {
  const range = `from=${START}&to=${START + 3 * HOUR}`;
  return [
    '/lines',
    ...LINE_IDS.map((l) => `/lines/${l}`),
    ...LINE_IDS.map((l) => `/lines/${l}/aggregates?${range}`),
    '/alerts?limit=10000',
    '/alerts?state=open',
    ...LINE_IDS.map((l) => `/alerts?lineId=${l}`),
    '/dead-letters?limit=1000',
  ];
}

async function answersInProcess(app: INestApplication): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const p of apiPaths()) {
    const res = await request(app.getHttpServer()).get(p);
    out[p] = { status: res.status, body: res.body as unknown };
  }
  return out;
}

async function answersOverHttp(base: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const p of apiPaths()) {
    const res = await fetch(`${base}${p}`);
    out[p] = { status: res.status, body: (await res.json()) as unknown };
  }
  return out;
}

describe('the same input on every backend (configuration only)', () => {
  const temp = makeTempDir('meterstream-parity-');
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const common = {
    STREAM_PARTITIONS: '8',
    // Only event time moves windows: a quiet partition's watermark must not follow the wall clock.
    IDLE_TIMEOUT_MS: String(24 * HOUR),
    // The read model and the alerts stream are compared; no channel delivers anywhere.
    ALERT_CHANNELS: '',
    AWS_REGION: 'us-east-1',
  };
  const envs = {
    embedded: { ...common, DATA_DIR: path.join(temp.dir, 'embedded') },
    kinesis: {
      ...common,
      DATA_DIR: path.join(temp.dir, 'kinesis'),
      STREAM_BACKEND: 'kinesis',
      KINESIS_ENDPOINT,
      KINESIS_STREAM_PREFIX: `parity-${run}-`,
      KINESIS_SHARDS: '4',
      // The processor's leases and checkpoints: a DynamoDB table on moto, created by the processor.
      DYNAMODB_ENDPOINT: MOTO_ENDPOINT,
      KINESIS_LEASE_TABLE: `parity-${run}-leases`,
      KINESIS_LEASE_TABLE_CREATE: 'true',
      READ_MODEL_BACKEND: 'sqlite',
      TIMESERIES_BACKEND: 'timestream',
      TIMESTREAM_ENDPOINT: MOTO_ENDPOINT,
      TIMESTREAM_DATABASE: `parity_${run}`,
    },
    kafka: {
      ...common,
      DATA_DIR: path.join(temp.dir, 'kafka'),
      STREAM_BACKEND: 'kafka',
      KAFKA_BROKERS: testBrokers().join(','),
      KAFKA_TOPIC_PREFIX: uniqueTopicPrefix('parity'),
      READ_MODEL_BACKEND: 'elasticsearch',
      ELASTICSEARCH_URL,
      ELASTICSEARCH_INDEX_PREFIX: `msparity-${run}-`,
      TIMESERIES_BACKEND: 'sqlite',
    },
  };
  const configs = { embedded: loadConfig(envs.embedded), kinesis: loadConfig(envs.kinesis), kafka: loadConfig(envs.kafka) };
  const processes: ServiceProcess[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  const outputs: Record<'embedded' | 'kinesis' | 'kafka', Record<string, string[]>> = { embedded: {}, kinesis: {}, kafka: {} };
  const ingested: Record<string, { readings: number; deadLetters: number }> = {};
  let kinesisShards = 0;
  let queryApiBase = '';
  let queryApiStartLine = '';

  beforeAll(async () => {
    await assertKafkaReachable();
    const es = testClient();
    await assertElasticsearchUp(es);
    await es.close();
    await requireMoto();
    buildOnce();

    // The same messages into each log, as the bridge appends them.
    const logs = { embedded: createStreamLog(configs.embedded), kinesis: createStreamLog(configs.kinesis), kafka: createStreamLog(configs.kafka) };
    for (const log of Object.values(logs)) closers.push(() => log.close());
    await Promise.all(
      (['embedded', 'kinesis', 'kafka'] as const).map(async (backend) => {
        ingested[backend] = await step(`ingesting into the ${backend} log`, () => ingest(logs[backend], configs[backend]));
      }),
    );
    kinesisShards = (await step('listing the Kinesis shards', () => logs.kinesis.partitions(STREAMS.readings))).length;

    // (b), (c): the real stream-processor, backends from the environment alone.
    const kinesisProcessor = new ServiceProcess('kinesis processor', 'dist/apps/stream-processor/src/main.js', { ...process.env, ...envs.kinesis });
    const kafkaProcessor = new ServiceProcess('kafka processor', 'dist/apps/stream-processor/src/main.js', { ...process.env, ...envs.kafka });
    processes.push(kinesisProcessor, kafkaProcessor);

    // (a): the processor with the embedded transaction commit, in process, to the end of its input.
    await logs.embedded.close();
    const db = openEmbeddedDatabase(configs.embedded.databaseFile, { synchronous: 'normal' });
    const processor = createEmbeddedStreamProcessor(configs.embedded, db);
    await processor.join();
    while ((await processor.poll()) > 0);
    await processor.stop();
    db.close();
    const embeddedLog = createStreamLog(configs.embedded);
    closers.push(() => embeddedLog.close());
    outputs.embedded = await outputsOf(embeddedLog);

    await Promise.all([
      step('waiting for the Kinesis processor', () => waitUntilCaughtUp(kinesisProcessor, configs.kinesis, logs.kinesis)),
      step('waiting for the Kafka processor', () => waitUntilCaughtUp(kafkaProcessor, configs.kafka, logs.kafka)),
    ]);
    for (const processor of [kinesisProcessor, kafkaProcessor]) {
      await processor.stop();
      // A clean stop: the final checkpoint, the sinks flushed and closed.
      expect(processor.lines.some((l) => l.includes('stopped at a checkpoint after'))).toBe(true);
    }
    outputs.kinesis = await step('reading the Kinesis outputs', () => outputsOf(logs.kinesis));
    outputs.kafka = await step('reading the Kafka outputs', () => outputsOf(logs.kafka));

    // (d): the real query API on the Kafka run's backends: Elasticsearch read model, alert commands to Kafka.
    const api = new ServiceProcess('query API', 'dist/apps/query-api/src/main.js', { ...process.env, ...envs.kafka, PORT: '0' });
    processes.push(api);
    queryApiBase = await waitFor(
      () => {
        api.alive();
        const line = api.lines.find((l) => l.includes('query API listening on '));
        return line?.match(/listening on (http:\/\/\S+)/)?.[1];
      },
      { what: 'the query API to listen', timeoutMs: 60_000 },
    );
    queryApiStartLine = api.lines.find((l) => l.includes('query API listening on '))!;
  }, 900_000);

  afterAll(async () => {
    for (const p of processes) await p.stop();
    for (const close of closers.reverse()) await close().catch(() => undefined);
    const es = testClient();
    const indices = (await es.cat.indices({ index: `${envs.kafka.ELASTICSEARCH_INDEX_PREFIX}*`, format: 'json', h: 'index' }).catch(() => [])) as { index: string }[];
    if (indices.length > 0) await es.indices.delete({ index: indices.map((i) => i.index) }).catch(() => undefined);
    await es.close();
    temp.cleanup();
  });

  it('ingests the same records into every log; Kinesis partitions them differently (4 shards)', () => {
    expect(ingested.kinesis).toEqual(ingested.embedded);
    expect(ingested.kafka).toEqual(ingested.embedded);
    expect(ingested.embedded.readings).toBeGreaterThan(6 * 20 * 480);
    expect(ingested.embedded.deadLetters).toBeGreaterThan(0);
    expect(kinesisShards).toBe(4);
  });

  it('the labelled faults are in the reference outputs: a sag alert on L02, a stuck-meter alert, late readings', () => {
    const alerts = asSet(outputs.embedded, STREAMS.alerts).map((v) => decodeEnvelope<AlertEnvelope>(v).body);
    expect(alerts.some((a) => a.lineId === 'L02' && a.kind === 'voltage-low' && a.state === 'raised')).toBe(true);
    expect(alerts.some((a) => a.deviceId === STUCK_METER && a.kind === 'meter-stuck' && a.state === 'raised')).toBe(true);
    expect(asSet(outputs.embedded, STREAMS.aggregates).length).toBeGreaterThan(6 * 100);
    expect(asSet(outputs.embedded, STREAMS.lateReadings).length).toBeGreaterThan(0);
  });

  it.each(['kinesis', 'kafka'] as const)('%s + the flush-then-checkpoint commit: aggregates, alerts and late readings equal the embedded run, per key in order and as sets', (backend) => {
    // The embedded transaction commit emits each record once; flush-then-checkpoint at least once.
    expect(deduplicate(outputs.embedded).repeats).toBe(0);
    const { outputs: deduplicated, conflicting } = deduplicate(outputs[backend]);
    expect(conflicting).toEqual([]);
    expect(Object.keys(deduplicated).sort()).toEqual(Object.keys(outputs.embedded).sort());
    for (const key of Object.keys(outputs.embedded)) expect({ key, records: deduplicated[key] }).toEqual({ key, records: outputs.embedded[key] });
    for (const stream of OUTPUT_STREAMS) {
      const ids = (values: string[]) => values.map((v) => decodeEnvelope<Envelope>(v).id);
      expect(new Set(ids(asSet(deduplicated, stream)))).toEqual(new Set(ids(asSet(outputs.embedded, stream))));
      expect(asSet(deduplicated, stream)).toEqual(asSet(outputs.embedded, stream));
    }
  });

  it('TIMESERIES_BACKEND=timestream (Kinesis run, on moto) holds the same readings as TIMESERIES_BACKEND=sqlite (Kafka run)', async () => {
    const db = openEmbeddedDatabase(configs.kafka.databaseFile, { synchronous: 'normal' });
    const sqlite = new SqliteTimeSeriesSink(db).range({ from: START - HOUR, to: START + 4 * HOUR, limit: 1_000_000 });
    db.close();
    const timestream = await motoTimestreamRecords(configs.kinesis.TIMESTREAM_DATABASE, configs.kinesis.TIMESTREAM_TABLE);
    // Keyed by time and voltage: a WriteRecords call of one meter carries its deviceId in
    // CommonAttributes, which moto does not copy into the records. Distinct keys: moto keeps a
    // re-sent record twice (Timestream keeps it once).
    const sqliteKeys = new Set(sqlite.map((p) => `${p.eventTime}|${p.voltage}`));
    const timestreamKeys = new Set(timestream.map((r) => `${r.Time}|${r.MeasureValues?.find((m) => m.Name === 'voltage')?.Value}`));
    expect(sqlite.length).toBeGreaterThan(6 * 20 * 470);
    expect(timestream.length).toBeGreaterThanOrEqual(sqlite.length);
    expect(timestreamKeys).toEqual(sqliteKeys);
  });

  it('the query API answers the same over Elasticsearch (the real query-api main, READ_MODEL_BACKEND=elasticsearch) as over SQLite', async () => {
    const sqliteApp = await createApiApp({
      readModel: (() => {
        const model = SqliteReadModel.open(configs.embedded.databaseFile);
        closers.push(() => model.close());
        return model;
      })(),
      alertCommands: { append: async () => undefined },
      config: configs.embedded,
      logger: false,
    });
    closers.push(() => sqliteApp.close());
    // The Kinesis run's SQLite read model, through the factory the services use.
    const kinesisModel = await createReadModel(configs.kinesis);
    closers.push(() => kinesisModel.close());
    const kinesisApp = await createApiApp({ readModel: kinesisModel, alertCommands: { append: async () => undefined }, config: configs.kinesis, logger: false });
    closers.push(() => kinesisApp.close());
    expect(queryApiStartLine).toContain(`read model Elasticsearch ${ELASTICSEARCH_URL} (indices ${envs.kafka.ELASTICSEARCH_INDEX_PREFIX}*)`);
    expect(queryApiStartLine).toContain(`alert commands to Kafka`);

    const reference = await answersInProcess(sqliteApp);
    expect((reference['/lines'] as { body: { lines: unknown[] } }).body.lines).toHaveLength(6);
    expect((reference['/dead-letters?limit=1000'] as { body: { deadLetters: unknown[] } }).body.deadLetters.length).toBeGreaterThan(0);
    for (const [p, answer] of Object.entries(reference)) expect({ p, status: (answer as { status: number }).status }).toEqual({ p, status: 200 });
    expect(await answersInProcess(kinesisApp)).toEqual(reference);
    expect(await answersOverHttp(queryApiBase)).toEqual(reference);
  });

  it('an acknowledgement through that API (STREAM_BACKEND=kafka) lands on the Kafka alert-commands stream, and the Kafka processor applies it to Elasticsearch', async () => {
    const open = (await (await fetch(`${queryApiBase}/alerts?state=open&limit=1`)).json()) as { alerts: { alertId: string; lineId: string }[] };
    expect(open.alerts).toHaveLength(1);
    const { alertId, lineId } = open.alerts[0];
    const res = await fetch(`${queryApiBase}/alerts/${encodeURIComponent(alertId)}/acknowledge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ by: 'parity-test', note: 'on it' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'parity-test', note: 'on it' });

    const kafka = createStreamLog(configs.kafka);
    closers.push(() => kafka.close());
    const commands = [...(await readAll(kafka, STREAMS.alertCommands)).values()].flat().map((r) => decodeEnvelope<AlertCommandEnvelope>(r.value));
    expect(commands.map((c) => [c.lineId, c.body.action, c.body.alertId, c.body.by])).toEqual([[lineId, 'acknowledge', alertId, 'parity-test']]);
    // Nothing on the alerts stream: an acknowledgement is not an alert event.
    expect(asSet(await outputsOf(kafka), STREAMS.alerts)).toEqual(asSet(outputs.kafka, STREAMS.alerts));

    // The read model shows it once a processor has applied it: the Kafka processor, started again from its checkpoints.
    const processor = new ServiceProcess('kafka processor (alert commands)', 'dist/apps/stream-processor/src/main.js', { ...process.env, ...envs.kafka });
    processes.push(processor);
    const shown = await waitFor(
      async () => {
        processor.alive();
        const after = (await (await fetch(`${queryApiBase}/alerts?lineId=${lineId}`)).json()) as { alerts: { alertId: string; state: string; acknowledgedBy: string | null }[] };
        const alert = after.alerts.find((a) => a.alertId === alertId);
        return alert?.state === 'acknowledged' ? alert : undefined;
      },
      { what: 'the Kafka processor to apply the acknowledgement to Elasticsearch', timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(shown).toMatchObject({ acknowledgedBy: 'parity-test', note: 'on it' });
    await processor.stop();
  });
});
