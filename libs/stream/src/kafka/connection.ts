import type { KafkaConfig } from '@meterstream/config';
import { Kafka, logLevel, type Admin, type ITopicConfig, type LogEntry, type RetryOptions, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions } from 'node:tls';

/** Where kafkajs's own warnings and errors go (connection lost, rejoining a group, ...). */
export interface KafkaLogger {
  warn(message: string): void;
}

/** How to reach the cluster; shared by the stream log and the checkpoint store. */
export interface KafkaConnectionOptions {
  /** host:port of one or more brokers (bootstrap list). */
  brokers: string[];
  clientId: string;
  /** true for TLS with the system CAs, or Node TLS options (CA, client certificate). */
  ssl?: boolean | ConnectionOptions;
  /** SASL credentials; the caller reads them from the environment, never from files in the repo. */
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  /**
   * kafkajs retry policy for every request (connects, metadata, produce, group calls). The default
   * rides out a broker restart of about a minute before an append or a read gives up.
   */
  retry?: RetryOptions;
  logger?: KafkaLogger;
}

/**
 * initial 300 ms, doubling to at most 5 s, 15 retries: about 60 s of trying before a call fails,
 * enough for a broker restart or a leader election, short enough that a dead cluster surfaces.
 */
export const DEFAULT_KAFKA_RETRY: RetryOptions = { initialRetryTime: 300, maxRetryTime: 5000, retries: 15 };

/** The connection settings from KAFKA_* configuration (the SASL secret comes from the environment). */
export function kafkaConnectionFromConfig(config: KafkaConfig): KafkaConnectionOptions {
  const brokers = config.KAFKA_BROKERS.split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  if (brokers.length === 0) throw new Error('KAFKA_BROKERS lists no broker (expected host:port[,host:port...])');
  const options: KafkaConnectionOptions = { brokers, clientId: config.KAFKA_CLIENT_ID, ssl: config.KAFKA_SSL };
  if (config.KAFKA_SASL_USERNAME !== undefined) {
    if (config.KAFKA_SASL_PASSWORD === undefined) throw new Error('KAFKA_SASL_USERNAME is set but KAFKA_SASL_PASSWORD is not');
    // SCRAM-SHA-512: what Amazon MSK and most self-run clusters with SASL use; never sends the password itself.
    options.sasl = { mechanism: 'scram-sha-512', username: config.KAFKA_SASL_USERNAME, password: config.KAFKA_SASL_PASSWORD };
  }
  return options;
}

export function createKafka(options: KafkaConnectionOptions): Kafka {
  const logger = options.logger ?? { warn: (message: string) => console.warn(message) };
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    ssl: options.ssl,
    sasl: options.sasl as SASLOptions | undefined,
    connectionTimeout: 3000,
    requestTimeout: 30_000,
    retry: { ...DEFAULT_KAFKA_RETRY, ...options.retry },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      if (!isNoise(entry)) logger.warn(formatLogEntry(entry));
    },
  });
}

/**
 * kafkajs logs every error answer of the broker at ERROR level before handing it to the caller,
 * which handles it (an existing topic, a rebalance, an offset out of range) or throws it with
 * context; logging it again would be noise. Finite producer retries are deliberate: a failed
 * send gets a fresh producer (IdempotentProducer), which is what kafkajs's warning is about.
 */
function isNoise({ namespace, log }: LogEntry): boolean {
  if (namespace === 'Connection' && log.message.startsWith('Response ')) return true;
  return namespace === 'Producer' && log.message.startsWith('Limiting retries for the idempotent producer');
}

function formatLogEntry({ namespace, label, log }: LogEntry): string {
  const { message, error, groupId, topic } = log as { message: string; error?: unknown; groupId?: string; topic?: string };
  const where = [groupId && `group ${groupId}`, topic && `topic ${topic}`].filter(Boolean).join(', ');
  return `kafkajs ${label} ${namespace}: ${message}${where ? ` (${where})` : ''}${error ? `: ${String(error)}` : ''}`;
}

/**
 * Creates topics on first use (idempotent: racing creators and existing topics are fine) and
 * remembers each topic's partition count. An existing topic keeps its own partition count.
 */
export class TopicRegistry {
  private readonly counts = new Map<string, Promise<number>>();

  constructor(private readonly admin: () => Promise<Admin>) {}

  /** The topic's partition count, creating the topic with `spec` when it does not exist. */
  ensure(topic: string, spec: Omit<ITopicConfig, 'topic'>): Promise<number> {
    let count = this.counts.get(topic);
    if (count === undefined) {
      count = this.create(topic, spec);
      this.counts.set(topic, count);
      // A failed attempt (cluster down) must not be remembered: the next call tries again.
      count.catch(() => this.counts.delete(topic));
    }
    return count;
  }

  private async create(topic: string, spec: Omit<ITopicConfig, 'topic'>): Promise<number> {
    let admin: Admin;
    try {
      admin = await this.admin();
      // Returns false when the topic already exists (another instance created it first).
      await admin.createTopics({ topics: [{ topic, ...spec }], waitForLeaders: true });
    } catch (error) {
      throw new Error(`could not create Kafka topic "${topic}": ${describeKafkaError(error)}`, { cause: error });
    }
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length ?? 0;
    if (count === 0) throw new Error(`Kafka topic "${topic}" has no partitions after creation`);
    return count;
  }
}

/** A one-line description of a kafkajs error, with the nested cause kafkajs keeps after retries. */
export function describeKafkaError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const causes: string[] = [];
  let cause: unknown = (error as { cause?: unknown }).cause;
  for (let depth = 0; cause instanceof Error && depth < 3; depth++) {
    causes.push(`${cause.name}: ${cause.message}`);
    cause = (cause as { cause?: unknown }).cause;
  }
  return `${error.name}: ${error.message}${causes.length > 0 ? ` (caused by ${causes.join('; ')})` : ''}`;
}

/**
 * Ports name a position by the last record processed; Kafka names the next offset to read.
 * A position is a Kafka offset as a decimal string.
 */
export function parseOffsetPosition(position: string): bigint {
  if (!/^\d{1,19}$/.test(position)) throw new Error(`not a Kafka position (a decimal offset): "${position}"`);
  return BigInt(position);
}

export function parsePartitionNumber(partition: string): number {
  if (!/^\d{1,9}$/.test(partition)) throw new Error(`not a Kafka partition number: "${partition}"`);
  return Number(partition);
}
