import type { z } from 'zod';
import { databaseFileIn, modelDirOf, parseVariables, variables, withCrossChecks } from './config';

/**
 * The configuration of each part of meterstream, by namespace: each holds the environment
 * variables that part reads (the same names as the README's Configuration table) and is
 * validated on its own, so a service loads only the namespaces it uses and a library's factory
 * receives only its slice. A namespace's type is a subset of the flat Config (loadConfig), so
 * the command line and tests can hand either.
 */
export interface ConfigNamespace<T> {
  readonly name: string;
  /** The variables it reads. */
  readonly keys: readonly string[];
  /** Reads and validates the namespace's variables; throws a ConfigError naming each bad one. */
  load(env?: NodeJS.ProcessEnv): T;
}

type Variables = z.output<typeof variables>;
type Picked<K extends keyof Variables> = Pick<Variables, K>;

function namespace<K extends keyof Variables, D extends object = object>(
  name: string,
  keys: readonly K[],
  derive: (c: Picked<K>) => D = () => ({}) as D,
): ConfigNamespace<Picked<K> & D> {
  const mask = Object.fromEntries(keys.map((k) => [k, true])) as Partial<Record<keyof Variables, true>>;
  const schema = withCrossChecks(variables.pick(mask));
  return {
    name,
    keys,
    load: (env = process.env) => {
      const c = parseVariables(schema, env) as unknown as Picked<K>;
      return { ...c, ...derive(c) };
    },
  };
}

/**
 * Checks the variables of several namespaces together (with every rule across them), so a
 * service that cannot start because of its settings names every bad variable at once, not only
 * those of the first namespace that fails. Throws one ConfigError.
 */
export function checkNamespaces(namespaces: readonly ConfigNamespace<unknown>[], env: NodeJS.ProcessEnv = process.env): void {
  const mask = Object.fromEntries(namespaces.flatMap((ns) => ns.keys).map((k) => [k, true])) as Partial<Record<keyof Variables, true>>;
  parseVariables(withCrossChecks(variables.pick(mask)), env);
}

const databaseFile = (c: { DATA_DIR: string }) => ({ databaseFile: databaseFileIn(c.DATA_DIR) });

const KAFKA = ['KAFKA_BROKERS', 'KAFKA_CLIENT_ID', 'KAFKA_TOPIC_PREFIX', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SSL'] as const;
const KINESIS = [
  'AWS_REGION',
  'KINESIS_ENDPOINT',
  'KINESIS_STREAM_PREFIX',
  'KINESIS_SHARDS',
  'KINESIS_LEASE_TABLE',
  'KINESIS_LEASE_TABLE_CREATE',
  'DYNAMODB_ENDPOINT',
  'KINESIS_LEASE_DURATION_MS',
  'KINESIS_LEASE_RENEW_MS',
  'KINESIS_LEASE_TAKE_MS',
] as const;
const MQTT_TLS = ['MQTT_CA_FILE', 'MQTT_CERT_FILE', 'MQTT_KEY_FILE', 'MQTT_CA_PEM', 'MQTT_CERT_PEM', 'MQTT_KEY_PEM'] as const;
const MQTT_CONNECTION = ['MQTT_URL', 'MQTT_HOST', 'MQTT_PORT', 'MQTT_USERNAME', 'MQTT_PASSWORD', 'MQTT_CLIENT_ID', ...MQTT_TLS] as const;

/**
 * The stream log and the shared checkpoint store (createStreamLog, createCheckpointStore):
 * STREAM_BACKEND; the embedded log in DATA_DIR (STREAM_PARTITIONS, LOG_SYNC, LOG_RETENTION_HOURS);
 * KAFKA_*; Kinesis (AWS_REGION, KINESIS_*, DYNAMODB_ENDPOINT: the streams and the lease table of its groups).
 */
export const streamNamespace = namespace(
  'stream',
  ['STREAM_BACKEND', 'DATA_DIR', 'STREAM_PARTITIONS', 'LOG_SYNC', 'LOG_RETENTION_HOURS', ...KAFKA, ...KINESIS],
  databaseFile,
);
export type StreamConfig = ReturnType<typeof streamNamespace.load>;
/** What the Kafka adapters read. */
export type KafkaConfig = Pick<StreamConfig, (typeof KAFKA)[number] | 'STREAM_PARTITIONS' | 'LOG_RETENTION_HOURS'>;
/** What the Kinesis adapter reads. */
export type KinesisConfig = Pick<StreamConfig, (typeof KINESIS)[number]>;

/** The read model (createReadModel): READ_MODEL_BACKEND, SQLite in DATA_DIR or ELASTICSEARCH_*. */
export const readModelNamespace = namespace(
  'readModel',
  ['READ_MODEL_BACKEND', 'DATA_DIR', 'ELASTICSEARCH_URL', 'ELASTICSEARCH_USERNAME', 'ELASTICSEARCH_PASSWORD', 'ELASTICSEARCH_API_KEY', 'ELASTICSEARCH_INDEX_PREFIX'],
  databaseFile,
);
export type ReadModelConfig = ReturnType<typeof readModelNamespace.load>;

/** The time-series sink (createTimeSeriesSink): TIMESERIES_BACKEND, SQLite in DATA_DIR or Timestream. */
export const timeSeriesNamespace = namespace(
  'timeSeries',
  ['TIMESERIES_BACKEND', 'DATA_DIR', 'AWS_REGION', 'TIMESTREAM_ENDPOINT', 'TIMESTREAM_DATABASE', 'TIMESTREAM_TABLE'],
  databaseFile,
);
export type TimeSeriesConfig = ReturnType<typeof timeSeriesNamespace.load>;
export type TimestreamConfig = Pick<TimeSeriesConfig, 'AWS_REGION' | 'TIMESTREAM_ENDPOINT' | 'TIMESTREAM_DATABASE' | 'TIMESTREAM_TABLE'>;

/** The alert channels (createAlertChannels): ALERT_CHANNELS, their settings, the MQTT broker the mqtt channel publishes to. */
export const alertChannelsNamespace = namespace('alertChannels', [
  'ALERT_CHANNELS',
  'ALERT_CHANNEL_RATE_PER_MINUTE',
  'ALERT_WEBHOOK_URL',
  'ALERT_WEBHOOK_SECRET',
  'SNS_TOPIC_ARN',
  'SNS_ENDPOINT',
  'AWS_REGION',
  ...MQTT_CONNECTION,
]);
export type AlertChannelsConfig = ReturnType<typeof alertChannelsNamespace.load>;
export type SnsConfig = Pick<AlertChannelsConfig, 'SNS_TOPIC_ARN' | 'SNS_ENDPOINT' | 'AWS_REGION'>;

/** The bridge's durable MQTT subscription: the broker, the service's credentials, TLS and session, the shared group, batching and backpressure. */
export const mqttNamespace = namespace('mqtt', [...MQTT_CONNECTION, 'MQTT_SHARED_GROUP', 'BRIDGE_BATCH_MAX', 'BRIDGE_MAX_INFLIGHT']);
export type MqttConfig = ReturnType<typeof mqttNamespace.load>;

/** TLS to the broker alone (the simulator, which takes the broker's URL on its command line). */
export const mqttTlsNamespace = namespace('mqttTls', MQTT_TLS);

/** The contract's bounds on what ingest accepts (createIngest). */
export const ingestNamespace = namespace('ingest', ['MAX_CLOCK_SKEW_MS', 'EARLIEST_EVENT_TIME', 'MAX_PAYLOAD_BYTES', 'MAX_PAYLOAD_DEPTH']);
export type IngestConfig = ReturnType<typeof ingestNamespace.load>;

/**
 * What the ingest bridge reads (INGEST_SOURCE): its MQTT subscription (the `mqtt` namespace) or
 * the raw Kinesis stream an AWS IoT topic rule writes (INGEST_RAW_STREAM on STREAM_BACKEND=kinesis),
 * read in batches of BRIDGE_BATCH_MAX records.
 */
export const ingestSourceNamespace = namespace('ingestSource', ['INGEST_SOURCE', 'INGEST_RAW_STREAM', 'STREAM_BACKEND', 'BRIDGE_BATCH_MAX']);
export type IngestSourceConfig = ReturnType<typeof ingestSourceNamespace.load>;

/** The stream processor's topology, rules and retention. */
export const processorNamespace = namespace('processor', [
  'WINDOW_SIZE_MS',
  'WINDOW_HOP_MS',
  'PER_METER_WINDOWS',
  'OUT_OF_ORDERNESS_MS',
  'ALLOWED_LATENESS_MS',
  'IDLE_TIMEOUT_MS',
  'LINE_TIMING',
  'CLOCK_AHEAD_LIMIT_MS',
  'VOLTAGE_LOW',
  'VOLTAGE_HIGH',
  'ALERT_CLEAR_WINDOWS',
  'ALERT_RULES',
  'READING_RETENTION_HOURS',
]);
export type ProcessorConfig = ReturnType<typeof processorNamespace.load>;

/** The model registry (FileModelRegistry): MODEL_DIR, default DATA_DIR/models. */
export const modelRegistryNamespace = namespace('modelRegistry', ['MODEL_DIR', 'DATA_DIR'], (c) => ({ modelDir: modelDirOf(c) }));
export type ModelRegistryConfig = ReturnType<typeof modelRegistryNamespace.load>;

/** The query API: where it listens, its token, the band the dashboard draws. */
export const apiNamespace = namespace('api', ['HOST', 'PORT', 'API_TOKEN', 'VOLTAGE_LOW', 'VOLTAGE_HIGH']);
export type ApiConfig = ReturnType<typeof apiNamespace.load>;

/**
 * What every service's operations side reads: LOG_LEVEL and LOG_FORMAT, and where the bridge's and the
 * processor's metrics and health endpoint listens (METRICS_HOST, BRIDGE_METRICS_PORT,
 * PROCESSOR_METRICS_PORT; beyond loopback /metrics needs API_TOKEN as a bearer token).
 */
export const operationsNamespace = namespace('operations', ['LOG_LEVEL', 'LOG_FORMAT', 'METRICS_HOST', 'BRIDGE_METRICS_PORT', 'PROCESSOR_METRICS_PORT', 'API_TOKEN']);
export type OperationsConfig = ReturnType<typeof operationsNamespace.load>;

/** Every namespace: what `npm start`, which runs every service, checks before it starts any. */
export const allNamespaces: readonly ConfigNamespace<unknown>[] = [
  streamNamespace,
  readModelNamespace,
  timeSeriesNamespace,
  alertChannelsNamespace,
  mqttNamespace,
  ingestNamespace,
  processorNamespace,
  modelRegistryNamespace,
  apiNamespace,
  mqttTlsNamespace,
  ingestSourceNamespace,
  operationsNamespace,
];
