import * as path from 'node:path';
import { z } from 'zod';

/**
 * All settings come from environment variables (12-factor), validated once at start-up with a
 * message naming every bad variable. Credentials are only ever read from the environment.
 */
const num = (fallback: number) => z.coerce.number().finite().default(fallback);
const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : v));

const schema = z
  .object({
    DATA_DIR: z.string().default('./data'),

    HOST: z.string().default('127.0.0.1'),
    PORT: int(3000, 0),
    API_TOKEN: optionalString,

    MQTT_URL: optionalString,
    MQTT_HOST: z.string().default('127.0.0.1'),
    MQTT_PORT: int(1883, 0),
    MQTT_USERNAME: optionalString,
    MQTT_PASSWORD: optionalString,
    MQTT_CLIENT_ID: z.string().default('meterstream-ingest-bridge'),

    STREAM_PARTITIONS: int(8, 1),
    LOG_SYNC: z.enum(['full', 'normal']).default('full'),
    LOG_RETENTION_HOURS: num(24 * 30),

    BRIDGE_BATCH_MAX: int(2000, 1),
    BRIDGE_MAX_INFLIGHT: int(20000, 1),
    MAX_CLOCK_SKEW_MS: int(60 * 60 * 1000),

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
    VOLTAGE_LOW: num(114),
    VOLTAGE_HIGH: num(126),
    ALERT_CLEAR_WINDOWS: int(2, 1),
    READING_RETENTION_HOURS: num(24 * 7),
  })
  .refine((c) => c.VOLTAGE_LOW < c.VOLTAGE_HIGH, { message: 'VOLTAGE_LOW must be below VOLTAGE_HIGH', path: ['VOLTAGE_LOW'] })
  .refine((c) => c.WINDOW_HOP_MS === undefined || (c.WINDOW_HOP_MS <= c.WINDOW_SIZE_MS && c.WINDOW_SIZE_MS % c.WINDOW_HOP_MS === 0), {
    message: 'WINDOW_HOP_MS must divide WINDOW_SIZE_MS',
    path: ['WINDOW_HOP_MS'],
  });

export type RawConfig = z.infer<typeof schema>;

export interface Config extends RawConfig {
  /** Absolute data folder. */
  dataDir: string;
  /** The SQLite file holding the embedded log, checkpoints and read model. */
  databaseFile: string;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const c = parsed.data;
  const dataDir = path.resolve(c.DATA_DIR);
  return { ...c, dataDir, databaseFile: path.join(dataDir, 'meterstream.db') };
}

/** True when a listen address is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
