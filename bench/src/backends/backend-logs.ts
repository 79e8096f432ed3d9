import { DeleteStreamCommand, KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { loadConfig, type Config } from '@meterstream/config';
import { STREAMS } from '@meterstream/contracts';
import { EmbeddedStreamLog, type StreamLog } from '@meterstream/stream';
import { KafkaStreamLog } from '@meterstream/stream/kafka';
import { KinesisStreamLog } from '@meterstream/stream/kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Kafka, logLevel } from 'kafkajs';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackendKind } from '../bench-options';

/** The defaults are the engines `bash scripts/engines/up.sh kafka kinesalite` starts. */
export const KAFKA_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:19092';
export const KINESIS_ENDPOINT = process.env.KINESIS_ENDPOINT ?? 'http://127.0.0.1:14567';
const AWS_REGION = process.env.AWS_REGION ?? 'us-east-1';
const START_ENGINES = 'bash scripts/engines/up.sh kafka kinesalite';

/** One stream backend opened for a measurement, in a scratch folder of its own. */
export interface BackendUnderTest {
  kind: BackendKind;
  /** What was measured, in words (goes to the JSON `name`). */
  name: string;
  log: StreamLog;
  /** The service configuration the processor runs with (the same on every backend but the backend keys). */
  config: Config;
  /** Scratch folder: the read model and the checkpoints live here, on every backend alike. */
  dir: string;
  /** Closes the log, removes what this run created on the engine (topics, streams) and the folder. */
  dispose(): Promise<void>;
}

/** Unique per run: topics and streams of earlier runs (both engines keep their data) never interfere. */
const RUN = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

/**
 * The configuration every backend shares. Same partition count everywhere (Kinesis shards too,
 * whose service default is lower) so the backends run the same parallelism over the same workload;
 * an idle timeout far beyond the run so which windows fire depends on the input only.
 */
function benchConfig(dir: string, backendKeys: Record<string, string>): Config {
  const base = { DATA_DIR: dir, IDLE_TIMEOUT_MS: String(24 * 3_600_000) };
  const partitions = loadConfig(base).STREAM_PARTITIONS;
  return loadConfig({ ...base, KINESIS_SHARDS: String(partitions), ...backendKeys });
}

/**
 * Kinesis credentials come from the SDK's default chain. kinesalite checks that requests are
 * signed, not by whom: when the environment has none, dummy ones are set for this process.
 */
export function ensureKinesaliteCredentials(): void {
  if (process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE) return;
  process.env.AWS_ACCESS_KEY_ID = 'kinesalite-bench';
  process.env.AWS_SECRET_ACCESS_KEY = 'kinesalite-bench';
}

function kinesisAdmin(): KinesisClient {
  return new KinesisClient({
    region: AWS_REGION,
    endpoint: KINESIS_ENDPOINT,
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 3000, requestTimeout: 10_000 }),
  });
}

/** Fails fast, naming the script that starts the engine, when a backend's engine does not answer. */
export async function assertReachable(kind: BackendKind): Promise<void> {
  if (kind === 'kafka') {
    const [host, port] = KAFKA_BROKERS.split(',')[0].trim().split(':');
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host, port: Number(port) });
      socket.setTimeout(3000);
      const fail = (why: string) => {
        socket.destroy();
        reject(new Error(`Kafka is not reachable at ${KAFKA_BROKERS} (${why}): start it with \`${START_ENGINES}\` or set KAFKA_BROKERS`));
      };
      socket.once('connect', () => {
        socket.end();
        resolve();
      });
      socket.once('timeout', () => fail('timed out'));
      socket.once('error', (e) => fail(e.message));
    });
  }
  if (kind === 'kinesis') {
    ensureKinesaliteCredentials();
    const admin = kinesisAdmin();
    try {
      await admin.send(new ListStreamsCommand({ Limit: 1 }));
    } catch (error) {
      throw new Error(`Kinesis (kinesalite) is not reachable at ${KINESIS_ENDPOINT} (${String(error)}): start it with \`${START_ENGINES}\` or set KINESIS_ENDPOINT`);
    } finally {
      admin.destroy();
    }
  }
}

/** Opens `kind` with a fresh scratch folder and unique topic/stream names; `extraStreams` (Kinesis: the raw stream) are removed with it too. */
export function openBackend(kind: BackendKind, warn: (message: string) => void, extraStreams: readonly string[] = []): BackendUnderTest {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `meterstream-bench-${kind}-`));
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    if (kind === 'embedded') {
      const config = benchConfig(dir, {});
      const log = EmbeddedStreamLog.open(config.databaseFile, { partitions: config.STREAM_PARTITIONS, synchronous: config.LOG_SYNC });
      return {
        kind,
        name: `embedded SQLite log (synchronous=${config.LOG_SYNC}), ${config.STREAM_PARTITIONS} partitions`,
        log,
        config,
        dir,
        dispose: async () => {
          await log.close();
          removeDir();
        },
      };
    }
    if (kind === 'kafka') {
      const prefix = `meterstream-bench.${RUN}.`;
      const config = benchConfig(dir, { STREAM_BACKEND: 'kafka', KAFKA_BROKERS, KAFKA_TOPIC_PREFIX: prefix, KAFKA_CLIENT_ID: 'meterstream-bench' });
      const log = KafkaStreamLog.fromConfig(config, { logger: { warn } });
      return {
        kind,
        name: `Apache Kafka at ${KAFKA_BROKERS} (local single-node broker, idempotent producer, acks=all), ${config.STREAM_PARTITIONS} partitions`,
        log,
        config,
        dir,
        dispose: async () => {
          await log.close();
          await deleteKafkaTopics(Object.values(STREAMS).map((s) => `${prefix}${s}`), warn);
          removeDir();
        },
      };
    }
    ensureKinesaliteCredentials();
    const prefix = `meterstream-bench-${RUN}-`;
    const config = benchConfig(dir, { STREAM_BACKEND: 'kinesis', KINESIS_ENDPOINT, KINESIS_STREAM_PREFIX: prefix, AWS_REGION });
    const log = KinesisStreamLog.fromConfig(config, { logger: { warn } });
    return {
      kind,
      name: `Kinesis API on kinesalite at ${KINESIS_ENDPOINT}: a local emulator on LevelDB, not AWS (no network, no service limits), ${config.KINESIS_SHARDS} shards`,
      log,
      config,
      dir,
      dispose: async () => {
        await log.close();
        await deleteKinesisStreams([...Object.values(STREAMS), ...extraStreams].map((s) => `${prefix}${s}`), warn);
        removeDir();
      },
    };
  } catch (err) {
    removeDir();
    throw err;
  }
}

/** Best effort: a leftover topic costs disk, not correctness (names are unique per run). */
async function deleteKafkaTopics(topics: string[], warn: (message: string) => void): Promise<void> {
  const admin = new Kafka({ clientId: 'meterstream-bench-cleanup', brokers: KAFKA_BROKERS.split(',').map((b) => b.trim()), logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
  } catch (err) {
    warn(`could not delete the bench's Kafka topics (${topics.join(', ')}): ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Best effort, like the topics: kinesalite keeps its data across restarts. */
async function deleteKinesisStreams(names: string[], warn: (message: string) => void): Promise<void> {
  const admin = kinesisAdmin();
  try {
    for (const name of names) {
      try {
        await admin.send(new DeleteStreamCommand({ StreamName: name }));
      } catch (err) {
        // A stream the run never created (no output of that kind) is not there to delete.
        if ((err as Error).name !== 'ResourceNotFoundException') warn(`could not delete the bench's Kinesis stream ${name}: ${(err as Error).message}`);
      }
    }
  } finally {
    admin.destroy();
  }
}
