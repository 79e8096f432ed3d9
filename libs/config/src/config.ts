import * as path from 'node:path';
import { z } from 'zod';
import { certificateMatchesKey, MQTT_TLS_ITEMS, mqttTlsOptions, normalisePem, pemProblem, readPemFile, type MqttTlsItem } from './mqtt-tls';

/**
 * All settings come from environment variables (12-factor), validated once at start-up with a
 * message naming every bad variable. Credentials are only ever read from the environment.
 */
const num = (fallback: number) => z.coerce.number().finite().default(fallback);
const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const port = (fallback: number) => z.coerce.number().int('must be a TCP port number, 0–65535 (0: any free port)').min(0, 'must be a TCP port number, 0–65535 (0: any free port)').max(65535, 'must be a TCP port number, 0–65535 (0: any free port)').default(fallback);
/** The alert channels there are (the alert-channels library builds them; here only the names are checked). */
export const ALERT_CHANNEL_NAMES = ['mqtt', 'webhook', 'sns'] as const;
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

/** A PEM file of `item` (MQTT_*_FILE): checked readable and well-formed at start-up, naming the path. */
const pemFile = (item: MqttTlsItem) =>
  optionalString.superRefine((file, ctx) => {
    if (file === undefined) return;
    let text: string;
    try {
      text = readPemFile(file);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return;
    }
    const problem = pemProblem(item, text);
    if (problem) ctx.addIssue({ code: 'custom', message: `${path.resolve(file)} ${problem}: it must hold ${MQTT_TLS_ITEMS[item].what}` });
  });
/** The PEM text of `item` itself (MQTT_*_PEM), as a secrets manager hands it over. */
const pemText = (item: MqttTlsItem) =>
  optionalString.superRefine((text, ctx) => {
    if (text === undefined) return;
    const problem = pemProblem(item, normalisePem(text));
    if (problem) ctx.addIssue({ code: 'custom', message: `${problem}: it must hold ${MQTT_TLS_ITEMS[item].what}` });
  });

const lineTimingRules = z.array(
  z
    .object({
      // As the core checks it (resolveProcessorOptions), so a bad rule stops the start-up naming LINE_TIMING.
      match: z
        .string()
        .min(1)
        .refine((m) => m.indexOf('*') === (m.endsWith('*') ? m.length - 1 : -1), 'must be a line id, or a prefix followed by one * at the end'),
      outOfOrdernessMs: z.number().int().min(0).optional(),
      allowedLatenessMs: z.number().int().min(0).optional(),
      idleTimeoutMs: z.number().int().min(1).optional(),
    })
    .strict(),
);

/** Every variable, once: the namespaces (namespaces.ts) pick theirs from here, so a key means the same everywhere. */
export const variables = z.object({
  DATA_DIR: z.string().default('./data'),

  HOST: z.string().default('127.0.0.1'),
  PORT: port(3000),
  API_TOKEN: optionalString,

  /** The services' log level (pino's levels); `silent` logs nothing. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` (one object per line), `pretty` (one readable line per record); unset: pretty on a terminal, else JSON. `npm start` sets pretty. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** Where the bridge's and the processor's metrics and health endpoints listen (the API serves them on its own port). */
  METRICS_HOST: z.string().default('127.0.0.1'),
  /** The ingest's endpoint: the bridge process, or `npm start` itself when its embedded broker ingests. 0 picks a free port. */
  BRIDGE_METRICS_PORT: int(9464, 0).refine((p) => p <= 65535, 'must be a TCP port (0-65535)'),
  /** The stream processor's endpoint (and its alert channels'). 0 picks a free port. */
  PROCESSOR_METRICS_PORT: int(9465, 0).refine((p) => p <= 65535, 'must be a TCP port (0-65535)'),

  MQTT_URL: optionalString,
  MQTT_HOST: z.string().default('127.0.0.1'),
  MQTT_PORT: port(1883),
  /** The service's own MQTT credentials (bridge, alert publisher); the embedded broker reserves them. */
  MQTT_USERNAME: optionalString,
  MQTT_PASSWORD: optionalString,
  /** What meters log in with on the embedded broker; required with MQTT_USERNAME beyond loopback. */
  MQTT_DEVICE_USERNAME: optionalString,
  MQTT_DEVICE_PASSWORD: optionalString,
  MQTT_CLIENT_ID: z.string().default('meterstream-ingest-bridge'),
  /**
   * TLS to an external broker (mqtts://): the CA that signed its certificate, and for mutual TLS
   * the client certificate and key, each as a PEM file or as the PEM text (secrets managers), not both.
   */
  MQTT_CA_FILE: pemFile('ca'),
  MQTT_CERT_FILE: pemFile('cert'),
  MQTT_KEY_FILE: pemFile('key'),
  MQTT_CA_PEM: pemText('ca'),
  MQTT_CERT_PEM: pemText('cert'),
  MQTT_KEY_PEM: pemText('key'),
  /**
   * Bridges with the same group split the broker's line/# traffic between them (MQTT shared
   * subscription $share/<group>/line/#: Mosquitto ≥ 1.6, EMQX, HiveMQ; not aedes, which grants such a
   * subscription and delivers nothing to it). Unset: one bridge takes all.
   */
  MQTT_SHARED_GROUP: optionalString.refine((g) => g === undefined || /^[A-Za-z0-9_.-]{1,64}$/.test(g), 'must be 1-64 letters, digits, _ . or - (no / + #), e.g. meterstream-bridges'),

  STREAM_PARTITIONS: int(8, 1),
  LOG_SYNC: z.enum(['full', 'normal']).default('full'),
  LOG_RETENTION_HOURS: num(24 * 30),

  /**
   * What the ingest bridge reads: `mqtt` (subscribe to MQTT_URL) or `kinesis-rule` (the raw
   * Kinesis stream an AWS IoT topic rule writes, INGEST_RAW_STREAM).
   */
  INGEST_SOURCE: z.enum(['mqtt', 'kinesis-rule'], { error: 'must be mqtt (subscribe to MQTT_URL) or kinesis-rule (read the IoT topic rule\'s raw Kinesis stream)' }).default('mqtt'),
  /** The raw stream the IoT rule writes, as a stream of the log: Kinesis stream `${KINESIS_STREAM_PREFIX}${INGEST_RAW_STREAM}`. */
  INGEST_RAW_STREAM: z
    .string()
    .default('raw')
    .refine((v) => /^[A-Za-z0-9_.-]{1,100}$/.test(v), 'must be 1-100 of A-Z a-z 0-9 _ . - (a Kinesis stream name, after KINESIS_STREAM_PREFIX)'),
  BRIDGE_BATCH_MAX: int(2000, 1),
  BRIDGE_MAX_INFLIGHT: int(20000, 1),
  MAX_CLOCK_SKEW_MS: int(60 * 60 * 1000),
  /** Readings stamped before this instant are refused (a meter whose clock reset to its epoch). */
  EARLIEST_EVENT_TIME: z
    .string()
    .default('2000-01-01T00:00:00Z')
    .refine((v) => Number.isFinite(Date.parse(v)), 'must be an ISO-8601 date-time, e.g. 2000-01-01T00:00:00Z'),
  /** Largest MQTT payload accepted; larger ones become dead letters (their bytes kept). */
  MAX_PAYLOAD_BYTES: int(256 * 1024, 1024),
  /** Deepest JSON nesting accepted in a payload (a reading is 1, a concentrator batch 2). */
  MAX_PAYLOAD_DEPTH: int(16, 2),

  WINDOW_SIZE_MS: int(60_000, 1000),
  /** Hopping windows: a new window every WINDOW_HOP_MS (must divide WINDOW_SIZE_MS); unset = tumbling. */
  WINDOW_HOP_MS: z.coerce.number().int().min(1000).optional(),
  /** Also aggregate every meter on its own (more state, more rows). */
  PER_METER_WINDOWS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  OUT_OF_ORDERNESS_MS: int(10_000),
  ALLOWED_LATENESS_MS: int(0),
  IDLE_TIMEOUT_MS: int(30_000, 1),
  /**
   * Per-line timing, JSON: [{"match":"HE1-*","outOfOrdernessMs":900000,"idleTimeoutMs":1200000}]
   * — an exact line id or a prefix with `*`; the first match wins (README: AMI head-ends).
   */
  LINE_TIMING: z
    .string()
    .default('[]')
    .transform((text, ctx) => {
      const example = '[{"match":"HE1-*","outOfOrdernessMs":900000,"idleTimeoutMs":1200000}]';
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `must be a JSON array like ${example}: ${(err as Error).message}` });
        return z.NEVER;
      }
      const rules = lineTimingRules.safeParse(json);
      if (rules.success) return rules.data;
      const problems = rules.error.issues.map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`).join('; ');
      ctx.addIssue({ code: 'custom', message: `must be a JSON array like ${example}: ${problems}` });
      return z.NEVER;
    }),
  /** A reading this far ahead of its line's other meters (beyond the line's out-of-orderness) is dead-lettered: "clock ahead of its line". */
  CLOCK_AHEAD_LIMIT_MS: int(15 * 60_000, 1),
  VOLTAGE_LOW: num(114),
  VOLTAGE_HIGH: num(126),
  ALERT_CLEAR_WINDOWS: int(2, 1),
  READING_RETENTION_HOURS: num(24 * 7),
  /** Alert rules: meterstream (limits, voltage model, meter health), fixed-variance (the original rule), or all. */
  ALERT_RULES: z.enum(['meterstream', 'fixed-variance', 'all']).default('meterstream'),
  /** Published voltage models (retrain --publish writes here; the processor installs the newest). Default: DATA_DIR/models. */
  MODEL_DIR: optionalString,

  // --- Backends (README "Running on real engines"). Credentials never live here: the AWS SDK
  // reads the default credential chain; Kafka/Elasticsearch secrets come from their env vars.
  /** Where the streams live: the embedded SQLite log, Kafka or Kinesis. */
  STREAM_BACKEND: z.enum(['embedded', 'kafka', 'kinesis']).default('embedded'),
  /** What the query API reads: SQLite (embedded) or Elasticsearch. */
  READ_MODEL_BACKEND: z.enum(['sqlite', 'elasticsearch']).default('sqlite'),
  /** Where raw readings are written as time series: SQLite (embedded) or Amazon Timestream. */
  TIMESERIES_BACKEND: z.enum(['sqlite', 'timestream', 'none']).default('sqlite'),

  KAFKA_BROKERS: z.string().default('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: z.string().default('meterstream'),
  KAFKA_TOPIC_PREFIX: z.string().default('meterstream.'),
  KAFKA_SASL_USERNAME: optionalString,
  KAFKA_SASL_PASSWORD: optionalString,
  KAFKA_SSL: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),

  AWS_REGION: z.string().default('us-east-1'),
  /** Local engines only (kinesalite, moto); unset in AWS. */
  KINESIS_ENDPOINT: optionalString,
  KINESIS_STREAM_PREFIX: z.string().default('meterstream-'),
  KINESIS_SHARDS: int(4, 1),
  /**
   * The DynamoDB table of the Kinesis consumer groups' leases, committed positions and the
   * processor's checkpoints (README "Kinesis scale-out"). The CDK stack provisions it.
   */
  KINESIS_LEASE_TABLE: z.string().default('meterstream-leases'),
  /** Create the lease table when it is missing (development against moto or a scratch account); AWS deployments use the stack's table. */
  KINESIS_LEASE_TABLE_CREATE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** Local engines only (moto); unset in AWS. */
  DYNAMODB_ENDPOINT: optionalString,
  /** A lease whose counter did not move for this long may be taken by another worker (KCL's failover time). */
  KINESIS_LEASE_DURATION_MS: int(10_000, 100),
  /** How often a worker renews the leases it holds: several renewals fit in one lease duration. */
  KINESIS_LEASE_RENEW_MS: int(3_000, 50),
  /** How often a worker looks for expired leases, new shards, and its even share (lease stealing). */
  KINESIS_LEASE_TAKE_MS: int(10_000, 50),

  ELASTICSEARCH_URL: z.string().default('http://127.0.0.1:9200'),
  ELASTICSEARCH_USERNAME: optionalString,
  ELASTICSEARCH_PASSWORD: optionalString,
  ELASTICSEARCH_API_KEY: optionalString,
  ELASTICSEARCH_INDEX_PREFIX: z.string().default('meterstream-'),

  TIMESTREAM_ENDPOINT: optionalString,
  TIMESTREAM_DATABASE: z.string().default('meterstream'),
  TIMESTREAM_TABLE: z.string().default('readings'),

  // --- Alert channels (comma-separated: mqtt, webhook, sns; the read model always gets alerts).
  ALERT_CHANNELS: z
    .string()
    .default('mqtt')
    .superRefine((value, ctx) => {
      const names = value.split(',').map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
      const unknown = names.filter((n) => !(ALERT_CHANNEL_NAMES as readonly string[]).includes(n));
      if (unknown.length > 0) ctx.addIssue({ code: 'custom', message: `unknown alert channel ${unknown.map((n) => `"${n}"`).join(', ')}: use a comma-separated list of ${ALERT_CHANNEL_NAMES.join(', ')} (or empty for none)` });
      const twice = names.filter((n, i) => names.indexOf(n) !== i);
      if (twice.length > 0) ctx.addIssue({ code: 'custom', message: `lists "${twice[0]}" twice` });
    }),
  ALERT_WEBHOOK_URL: optionalString,
  /** HMAC-SHA256 key for the webhook signature header; required when the webhook channel is on. */
  ALERT_WEBHOOK_SECRET: optionalString,
  SNS_ENDPOINT: optionalString,
  SNS_TOPIC_ARN: optionalString,
  /** Per channel: at most this many alert deliveries per minute; more wait their turn (none dropped). */
  ALERT_CHANNEL_RATE_PER_MINUTE: int(30, 1),
});

type Variables = z.infer<typeof variables>;
type Check = {
  test: (c: Variables) => boolean;
  message: string;
  path: keyof Variables;
  needs: readonly (keyof Variables)[];
  /** A rule for the service that uses these variables, not for tools reading the whole configuration (replay, retrain). */
  servicesOnly?: true;
};

const TLS_VARIABLES = Object.values(MQTT_TLS_ITEMS).flatMap((i) => [i.file, i.pem]);
const hasClientCertificate = (c: Variables) => Boolean(c.MQTT_CERT_FILE || c.MQTT_CERT_PEM);
const hasClientKey = (c: Variables) => Boolean(c.MQTT_KEY_FILE || c.MQTT_KEY_PEM);

/** The rules between the MQTT TLS variables (each one's own content is checked on the variable). */
const mqttTlsChecks: Check[] = [
  ...Object.values(MQTT_TLS_ITEMS).map(
    (i): Check => ({
      test: (c) => !(c[i.file] && c[i.pem]),
      message: `${i.file} and ${i.pem} are both set: give ${i.what} once, as a file or as PEM text`,
      path: i.pem,
      needs: [i.file, i.pem],
    }),
  ),
  {
    test: (c) => hasClientCertificate(c) === hasClientKey(c),
    message: 'mutual TLS needs both the client certificate (MQTT_CERT_FILE or MQTT_CERT_PEM) and its private key (MQTT_KEY_FILE or MQTT_KEY_PEM); set both or neither',
    path: 'MQTT_CERT_FILE',
    needs: TLS_VARIABLES,
  },
  {
    test: (c) => {
      if (!hasClientCertificate(c) || !hasClientKey(c)) return true;
      let tls;
      try {
        tls = mqttTlsOptions(c);
      } catch {
        return true; // an unreadable file is reported on its own variable
      }
      return !tls?.cert || !tls.key || certificateMatchesKey(tls.cert, tls.key);
    },
    message: 'the client certificate (MQTT_CERT_FILE/MQTT_CERT_PEM) and the private key (MQTT_KEY_FILE/MQTT_KEY_PEM) do not belong together',
    path: 'MQTT_KEY_FILE',
    needs: TLS_VARIABLES,
  },
  {
    test: (c) => !TLS_VARIABLES.some((v) => c[v]) || /^(mqtts|ssl):/.test(c.MQTT_URL ?? ''),
    message: 'TLS settings (MQTT_CA_*, MQTT_CERT_*, MQTT_KEY_*) are set but the broker URL is not mqtts://: set MQTT_URL=mqtts://<host>:8883, or unset them',
    path: 'MQTT_URL',
    needs: ['MQTT_URL', ...TLS_VARIABLES],
  },
];

/** Rules across variables; a namespace applies those whose variables it holds. */
export const crossChecks: readonly Check[] = [
  ...mqttTlsChecks,
  {
    test: (c) => c.KINESIS_LEASE_RENEW_MS < c.KINESIS_LEASE_DURATION_MS,
    message: 'KINESIS_LEASE_RENEW_MS must be below KINESIS_LEASE_DURATION_MS (a lease is renewed several times before it may expire)',
    path: 'KINESIS_LEASE_RENEW_MS',
    needs: ['KINESIS_LEASE_RENEW_MS', 'KINESIS_LEASE_DURATION_MS'],
  },
  {
    test: (c) => c.INGEST_SOURCE !== 'kinesis-rule' || c.STREAM_BACKEND === 'kinesis',
    message: 'INGEST_SOURCE=kinesis-rule reads the raw Kinesis stream the IoT topic rule writes: it needs STREAM_BACKEND=kinesis (with KINESIS_STREAM_PREFIX and AWS_REGION)',
    path: 'INGEST_SOURCE',
    needs: ['INGEST_SOURCE', 'STREAM_BACKEND'],
  },
  {
    test: (c) => isLoopback(c.METRICS_HOST) || c.API_TOKEN !== undefined,
    message: 'a metrics endpoint beyond loopback needs API_TOKEN (scrapers send Authorization: Bearer <token>): set API_TOKEN, or METRICS_HOST=127.0.0.1',
    path: 'METRICS_HOST',
    needs: ['METRICS_HOST', 'API_TOKEN'],
  },
  { test: (c) => c.VOLTAGE_LOW < c.VOLTAGE_HIGH, message: 'VOLTAGE_LOW must be below VOLTAGE_HIGH', path: 'VOLTAGE_LOW', needs: ['VOLTAGE_LOW', 'VOLTAGE_HIGH'] },
  {
    test: (c) => c.WINDOW_HOP_MS === undefined || (c.WINDOW_HOP_MS <= c.WINDOW_SIZE_MS && c.WINDOW_SIZE_MS % c.WINDOW_HOP_MS === 0),
    message: 'WINDOW_HOP_MS must divide WINDOW_SIZE_MS',
    path: 'WINDOW_HOP_MS',
    needs: ['WINDOW_HOP_MS', 'WINDOW_SIZE_MS'],
  },
  {
    test: (c) => !channelsOf(c).includes('webhook') || c.ALERT_WEBHOOK_URL !== undefined,
    message: 'ALERT_CHANNELS includes webhook, so ALERT_WEBHOOK_URL must be set to the http(s) URL that receives the alerts',
    path: 'ALERT_WEBHOOK_URL',
    needs: ['ALERT_CHANNELS', 'ALERT_WEBHOOK_URL'],
  },
  {
    test: (c) => !channelsOf(c).includes('webhook') || c.ALERT_WEBHOOK_URL === undefined || /^https?:\/\/[^/]/i.test(c.ALERT_WEBHOOK_URL),
    message: 'must be an http(s) URL, e.g. https://ops.example.com/meterstream-alerts',
    path: 'ALERT_WEBHOOK_URL',
    needs: ['ALERT_CHANNELS', 'ALERT_WEBHOOK_URL'],
  },
  {
    test: (c) => !channelsOf(c).includes('webhook') || c.ALERT_WEBHOOK_SECRET !== undefined,
    message: 'ALERT_CHANNELS includes webhook, so ALERT_WEBHOOK_SECRET must be set (the key receivers verify X-Meterstream-Signature with; e.g. $(openssl rand -hex 32))',
    path: 'ALERT_WEBHOOK_SECRET',
    needs: ['ALERT_CHANNELS', 'ALERT_WEBHOOK_SECRET'],
  },
  {
    test: (c) => !channelsOf(c).includes('sns') || c.SNS_TOPIC_ARN !== undefined,
    message: 'ALERT_CHANNELS includes sns, so SNS_TOPIC_ARN must be set (arn:aws:sns:<region>:<account>:<topic>)',
    path: 'SNS_TOPIC_ARN',
    needs: ['ALERT_CHANNELS', 'SNS_TOPIC_ARN'],
  },
  {
    test: (c) => isLoopback(c.HOST) || c.API_TOKEN !== undefined,
    message:
      'a HOST beyond loopback serves the query API to the network, so API_TOKEN must be set to a long random secret (e.g. API_TOKEN=$(openssl rand -hex 32); clients send "Authorization: Bearer <token>"), or listen on HOST=127.0.0.1',
    path: 'API_TOKEN',
    needs: ['HOST', 'API_TOKEN'],
    // The image sets HOST=0.0.0.0 for every service; `replay` in a processor's container must not need the API's token.
    servicesOnly: true,
  },
];

/** The channel names in ALERT_CHANNELS. */
function channelsOf(c: Pick<Variables, 'ALERT_CHANNELS'>): string[] {
  return c.ALERT_CHANNELS.split(',').map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
}

/** `schema` with the cross-variable rules that apply to the variables it holds (for tools: without the services' own). */
export function withCrossChecks<S extends z.ZodObject>(schema: S, options: { tools?: boolean } = {}): S {
  const keys = new Set(Object.keys(schema.shape));
  let checked = schema;
  for (const check of crossChecks.filter((c) => c.needs.every((k) => keys.has(k)) && !(options.tools && c.servicesOnly))) {
    checked = checked.refine((c) => check.test(c as Variables), { message: check.message, path: [check.path] }) as S;
  }
  return checked;
}

const schema = withCrossChecks(variables, { tools: true });

export type RawConfig = z.infer<typeof schema>;

export interface Config extends RawConfig {
  /** Absolute data folder. */
  dataDir: string;
  /** The SQLite file holding the embedded log, checkpoints and read model. */
  databaseFile: string;
  /** Absolute folder of the model registry. */
  modelDir: string;
}

/** A bad setting; the message names every bad variable. `settingsError`: loggers report it without a stack trace. */
export class ConfigError extends Error {
  readonly settingsError = true;
}

/**
 * Every variable at once, flat: for the command line (`meterstream start` checks the whole
 * pipeline's settings before it spawns anything), tools and tests. Services load only their
 * namespaces (namespaces.ts); a flat Config satisfies every namespace's type.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const c = parseVariables(schema, env);
  const dataDir = path.resolve(c.DATA_DIR);
  return { ...c, dataDir, databaseFile: databaseFileIn(c.DATA_DIR), modelDir: modelDirOf(c) };
}

/** Parses `env` with `schema`, or throws one ConfigError naming every bad variable. */
export function parseVariables<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

/** The SQLite file of the embedded log, checkpoints and read model in DATA_DIR. */
export function databaseFileIn(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'meterstream.db');
}

/** MODEL_DIR, or DATA_DIR/models, absolute. */
export function modelDirOf(c: Pick<Variables, 'DATA_DIR' | 'MODEL_DIR'>): string {
  return path.resolve(c.MODEL_DIR ?? path.join(path.resolve(c.DATA_DIR), 'models'));
}

/** True when a listen address is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
