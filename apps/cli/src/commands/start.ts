import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allNamespaces, checkNamespaces, loadConfig, type Config } from '@meterstream/config';
import { createIngest, IngestMetrics } from '@meterstream/ingest';
import { startEmbeddedBroker, type EmbeddedBroker } from '@meterstream/mqtt';
import { createServiceRegistry } from '@meterstream/observability';
import { createStreamLog, type StreamLog } from '@meterstream/stream';
import { Supervisor } from '../supervisor';
import { startIngestOperations, type IngestOperations } from './ingest-operations';

export interface StartOptions {
  simulator: boolean;
  lines: number;
  metersPerLine: number;
  speed: number;
  faults: string;
}

const dist = path.resolve(__dirname, '../../../..');
const script = (rel: string) => path.join(dist, rel);

async function waitForHealth(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/**
 * `npm start`: the whole pipeline on embedded defaults — an MQTT broker (unless MQTT_URL names
 * one), the ingest bridge, the stream processor, the query API and a simulated fleet.
 */
export async function start(options: StartOptions): Promise<void> {
  // Every service's settings, with the services' own rules, in one message before anything starts.
  checkNamespaces(allNamespaces);
  const config = loadConfig();
  fs.mkdirSync(config.dataDir, { recursive: true });
  const print = (line: string) => process.stdout.write(`${line}\n`);

  let broker: EmbeddedBroker | undefined;
  let ingestLog: StreamLog | undefined;
  let operations: IngestOperations | undefined;
  let mqttUrl = config.MQTT_URL;
  // The service's MQTT credentials: configured, or made up for this run (loopback) and handed to
  // the services, so only they can publish alerts or use the service's client ids.
  const service = serviceCredentials(config);
  if (!mqttUrl) {
    // Embedded: ingest runs here, on the broker's publish path; a PUBACK means the reading (or its
    // dead letter) is committed. No bridge process, no second MQTT hop.
    ingestLog = createStreamLog(config);
    const ingest = createIngest(ingestLog, config);
    // The ingest's metrics, as the bridge process would serve them: here the broker ingests.
    const registry = createServiceRegistry('ingest');
    const metrics = new IngestMetrics(registry, ingest, { received: () => broker?.received() ?? 0, acknowledged: () => broker?.ingested() ?? 0, inFlight: () => broker?.inFlight() ?? 0 });
    const device = config.MQTT_DEVICE_USERNAME && config.MQTT_DEVICE_PASSWORD ? { username: config.MQTT_DEVICE_USERNAME, password: config.MQTT_DEVICE_PASSWORD } : undefined;
    broker = await startEmbeddedBroker({
      host: config.MQTT_HOST,
      port: config.MQTT_PORT,
      service,
      device,
      ingest: metrics.handler(),
      ingestBatchMax: config.BRIDGE_BATCH_MAX,
      onIngestError: (err) => print(`[broker]     ingest could not commit; publishers wait unacknowledged and it retries: ${err.message}`),
    }).catch(async (err: NodeJS.ErrnoException) => {
      await ingestLog?.close();
      if (err.code !== 'EADDRINUSE') throw err;
      throw new Error(`${config.MQTT_HOST}:${config.MQTT_PORT} is taken (another MQTT broker, or meterstream already running?): set MQTT_PORT to another port, or MQTT_URL to use that broker`);
    });
    mqttUrl = broker.url;
    print(`[broker]     embedded MQTT broker (aedes) listening on ${mqttUrl}; ingest acknowledges each publish once it is durable`);
    const running = broker;
    operations = await startIngestOperations(config, registry, running).catch(async (err: Error) => {
      await running.close();
      await ingestLog?.close();
      throw err;
    });
    print(`[broker]     ingest metrics and health on ${operations.url}/metrics, /health, /ready`);
  } else {
    print(`[broker]     using the external MQTT broker at ${mqttUrl}`);
  }

  // LOG_FORMAT: the services print one readable line per record here (the launcher prefixes each
  // with the service's name) unless the user asked for JSON.
  const env = { MQTT_URL: mqttUrl, DATA_DIR: config.dataDir, MQTT_USERNAME: service.username, MQTT_PASSWORD: service.password, LOG_FORMAT: config.LOG_FORMAT ?? 'pretty' };
  let shutdown: (reason: string, exitCode: number) => Promise<void> = async () => undefined;
  const supervisor = new Supervisor(print, (failure) => {
    const why = failure.lastLines.length > 0 ? failure.lastLines[failure.lastLines.length - 1] : `it exited (${failure.exit})`;
    void shutdown(`The ${failure.name} could not start (${failure.exit}): ${why}\nFix that and run npm start again.`, 1);
  });
  let stopping = false;
  shutdown = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    print(`\n${reason}`);
    print('Stopping the processor (it checkpoints its open windows), the simulator, then ingest (it acknowledges only what is durable) and the API...');
    // The processor first: while it runs on with nothing arriving, its lines would go idle and
    // fire their open windows early. Stopped first, it checkpoints them open; what the simulator
    // still sends is in the log for the next start.
    await supervisor.stop(['processor']);
    await supervisor.stop(['simulator']);
    await operations?.close();
    await broker?.close();
    await ingestLog?.close();
    await supervisor.stop(['bridge', 'api']);
    print(exitCode === 0 ? 'stopped cleanly.' : 'stopped.');
    process.exit(exitCode);
  };
  supervisor.start({ name: 'processor', script: script('apps/stream-processor/src/main.js'), env, restart: true });
  supervisor.start({ name: 'api', script: script('apps/query-api/src/main.js'), env, restart: true });
  if (!broker) supervisor.start({ name: 'bridge', script: script('apps/ingest-bridge/src/main.js'), env, restart: true });

  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const apiUrl = `http://${host.includes(':') ? `[${host}]` : host}:${config.PORT}`;
  const healthy = await waitForHealth(apiUrl, 30_000);
  // A service that could not start is stopping everything: no banner, no simulator.
  if (stopping) return;

  // The simulated fleet's state: a restart continues it where it stopped instead of starting it again an hour back.
  const simulatorState = path.join(config.dataDir, 'simulator-state.json');
  const continuing = fs.existsSync(simulatorState);
  if (options.simulator) {
    supervisor.start({
      name: 'simulator',
      script: script('simulator/src/main.js'),
      args: [
        '--broker', mqttUrl,
        '--lines', String(options.lines),
        '--meters-per-line', String(options.metersPerLine),
        '--interval', '15s',
        '--start', 'now-1h',
        '--duration', 'forever',
        '--speed', String(options.speed),
        '--qos', '1',
        '--faults', options.faults,
        '--labels', path.join(config.dataDir, 'labels.jsonl'),
        '--state', simulatorState,
      ],
      // The simulated meters log in as devices, never with the service's credentials.
      env: { MQTT_USERNAME: config.MQTT_DEVICE_USERNAME ?? '', MQTT_PASSWORD: config.MQTT_DEVICE_PASSWORD ?? '' },
      restart: false,
    });
  }

  const auth = config.API_TOKEN ? ` -H "Authorization: Bearer $API_TOKEN"` : '';
  print('');
  print(healthy ? 'meterstream is running.' : 'meterstream started, but the API did not answer /health within 30 s; see the [api] lines above.');
  print(`  dashboard     ${apiUrl}/`);
  print(`  REST API      ${apiUrl}            e.g. curl -s${auth} ${apiUrl}/lines`);
  print(`  API docs      ${apiUrl}/docs`);
  print(`  MQTT broker   ${mqttUrl}   (publish to line/{lineId}/SmartMeterData)`);
  const opsHost = config.METRICS_HOST === '0.0.0.0' || config.METRICS_HOST === '::' ? '127.0.0.1' : config.METRICS_HOST;
  print(
    `  metrics       ${apiUrl}/metrics (API), ${operations?.url ?? `http://${opsHost}:${config.BRIDGE_METRICS_PORT}`}/metrics (${broker ? 'ingest' : 'bridge'}), http://${opsHost}:${config.PROCESSOR_METRICS_PORT}/metrics (processor); /health and /ready beside each`,
  );
  print(`  data          ${config.dataDir}`);
  if (options.simulator) {
    const from = continuing ? 'continuing where it stopped' : 'starting 1 h back';
    print(`  simulator     ${options.lines} lines × ${options.metersPerLine} meters, ${from}, at ${options.speed}× until it reaches the present`);
  }
  print('  Ctrl-C stops everything cleanly.');
  print('');

  process.on('SIGINT', () => void shutdown('SIGINT', 0));
  process.on('SIGTERM', () => void shutdown('SIGTERM', 0));
}

function serviceCredentials(config: Config): { username: string; password: string } {
  if (config.MQTT_USERNAME && config.MQTT_PASSWORD) return { username: config.MQTT_USERNAME, password: config.MQTT_PASSWORD };
  return { username: 'meterstream-service', password: randomBytes(24).toString('base64url') };
}
