import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { StreamLog, StreamRecord } from '@meterstream/stream';
import { buildOnce, waitFor, forEachOutputLine } from '@meterstream/test-harness';

/**
 * The ingest bridge and the stream processor on Kafka (STREAM_BACKEND=kafka), as OS processes
 * built from dist/, and the engine script that stops and starts the shared Kafka broker.
 */

const ROOT = path.resolve(__dirname, '../..');
const KAFKA_SCRIPT = path.join(ROOT, 'scripts/engines/kafka.sh');
/** Where scripts/engines/kafka.sh records the broker's pid (removed by `kafka.sh stop`). */
const KAFKA_PID_FILE = path.join(ROOT, '.cache/engines/kafka/pid');
const run = promisify(execFile);

/** `bash scripts/engines/kafka.sh [stop]`: stop keeps the broker's data, start waits until it is healthy. */
export async function kafkaEngine(command: 'start' | 'stop'): Promise<void> {
  const args = command === 'stop' ? [KAFKA_SCRIPT, 'stop'] : [KAFKA_SCRIPT];
  try {
    await run('bash', args, { cwd: ROOT, timeout: 180_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`scripts/engines/kafka.sh ${command} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: error });
  }
}

/**
 * The pid of the broker the engine script started, null while it is stopped. Other engineers'
 * suites share the broker: a pid that changed when this test did not restart it means someone
 * else restarted it under the test.
 */
export function kafkaBrokerPid(): number | null {
  try {
    return Number(fs.readFileSync(KAFKA_PID_FILE, 'utf8').trim());
  } catch {
    return null;
  }
}

type ServiceName = 'bridge' | 'processor';
const SCRIPTS: Record<ServiceName, string> = {
  bridge: 'dist/apps/ingest-bridge/src/main.js',
  processor: 'dist/apps/stream-processor/src/main.js',
};

/** One service process; its recent output is kept for assertions and failure messages. */
export class ServiceProcess {
  readonly child: ChildProcess;
  /** The pid it was started with: a recovered service is still this process. */
  readonly pid: number;
  /** Resolves when the process exits, whatever the reason. */
  readonly exited: Promise<void>;
  private readonly lines: string[] = [];

  constructor(
    readonly name: ServiceName,
    env: NodeJS.ProcessEnv,
  ) {
    // An IPC channel, so the service stops (exitWithParent) if the test process dies first.
    this.child = spawn(process.execPath, [path.join(ROOT, SCRIPTS[name])], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    if (this.child.pid === undefined) throw new Error(`could not start the ${name}`);
    this.pid = this.child.pid;
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    forEachOutputLine(this.child, (line) => this.keep(line));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Every line kept so far (the last 2000). */
  output(): string[] {
    return [...this.lines];
  }

  recentOutput(lines = 60): string {
    return this.lines.slice(-lines).join('\n');
  }

  /** Waits until a line matches, failing at once (with its output) if the process exits. */
  async waitForLine(pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
    await waitFor(
      () => {
        if (!this.running) throw new Error(`the ${this.name} exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.recentOutput()}`);
        return this.lines.some((line) => pattern.test(line));
      },
      { what: `${what}; ${this.name} said:\n${this.recentOutput(20)}`, timeoutMs, intervalMs: 100 },
    );
  }

  /** SIGTERM, SIGKILL after 15 s; resolves once the process is gone. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 2000) this.lines.shift();
  }
}

export interface KafkaServicesOptions {
  mqttUrl: string;
  mqttClientId: string;
  brokers: readonly string[];
  /** KAFKA_TOPIC_PREFIX: a fresh one per run keeps runs (and their consumer groups) apart. */
  topicPrefix: string;
  /** The services' DATA_DIR (the processor's SQLite read model and time series live there). */
  dataDir: string;
  /** Added to (and overriding) the services' environment. */
  env?: Record<string, string>;
}

export interface KafkaServices {
  bridge: ServiceProcess;
  processor: ServiceProcess;
  stop(): Promise<void>;
}

/**
 * Builds dist/ (once per test process) and starts the processor and the bridge on Kafka; resolves
 * once the processor is processing and the bridge has subscribed.
 */
export async function startKafkaServices(options: KafkaServicesOptions): Promise<KafkaServices> {
  buildOnce();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STREAM_BACKEND: 'kafka',
    KAFKA_BROKERS: options.brokers.join(','),
    KAFKA_TOPIC_PREFIX: options.topicPrefix,
    DATA_DIR: options.dataDir,
    MQTT_URL: options.mqttUrl,
    MQTT_CLIENT_ID: options.mqttClientId,
    READ_MODEL_BACKEND: 'sqlite',
    TIMESERIES_BACKEND: 'sqlite',
    ...options.env,
  };
  const processor = new ServiceProcess('processor', env);
  const bridge = new ServiceProcess('bridge', env);
  const services: KafkaServices = {
    bridge,
    processor,
    stop: async () => {
      // Bridge first: it acknowledges only what is durable, then the processor checkpoints.
      await bridge.stop();
      await processor.stop();
    },
  };
  try {
    await processor.waitForLine(/processing readings and dead-letters/, 'the processor to start processing');
    await bridge.waitForLine(/subscribed to/, 'the bridge to subscribe');
  } catch (error) {
    await services.stop();
    throw error;
  }
  return services;
}

/** Every record of a stream, partition by partition, in log order. */
export async function readWholeStream(log: StreamLog, stream: string): Promise<StreamRecord[]> {
  const records: StreamRecord[] = [];
  for (const partition of await log.partitions(stream)) {
    let after: string | null = null;
    for (;;) {
      const batch = await log.read(stream, partition, after, 10_000);
      if (batch.length === 0) break;
      records.push(...batch);
      after = batch[batch.length - 1].position;
    }
  }
  return records;
}
