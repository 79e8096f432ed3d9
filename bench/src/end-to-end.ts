import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { decodeEnvelope, STREAMS, type AggregateEnvelope } from '@meterstream/contracts';
import { Ingest } from '@meterstream/ingest';
import { startEmbeddedBroker } from '@meterstream/mqtt';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { closingMessages, type Workload } from './workload';

const DIST = path.resolve(__dirname, '../..');
// BENCH_PROFILE_DIR=/some/dir writes a CPU profile of every process of the run there.
const PROFILE = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [];

export interface EndToEndResult {
  readings: number;
  seconds: number;
  readingsPerSec: number;
  /** Publisher's own rate (broker accepted with PUBACK). */
  publishPerSec: number;
  /** Readings in the log and in fired per-line windows: both must equal `readings`. */
  inLog: number;
  aggregated: number;
  lost: number;
}

function service(script: string, env: NodeJS.ProcessEnv, onLine: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, [...PROFILE, path.join(DIST, script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) if (stream) readline.createInterface({ input: stream }).on('line', onLine);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/**
 * MQTT publish → durable ingest (acknowledged) → log → processor → fired aggregates, as `npm start`
 * runs it: the embedded broker ingests on its publish path in this process (no bridge), or, with
 * an external broker, the bridge process subscribes to it. The processor is its own process. The
 * clock runs from the first publish until the aggregates account for every published reading.
 */
export async function measureEndToEnd(
  workload: Workload,
  expected: number,
  progress: (line: string) => void,
  externalBrokerUrl?: string,
): Promise<EndToEndResult> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterstream-bench-'));
  const ingestLog = externalBrokerUrl ? undefined : EmbeddedStreamLog.open(path.join(dataDir, 'meterstream.db'), { partitions: 8 });
  const ingest = ingestLog ? new Ingest(ingestLog, { maxFutureSkewMs: 60 * 60 * 1000 }) : undefined;
  const broker = ingest
    ? await startEmbeddedBroker({ host: '127.0.0.1', port: 0, ingest: (messages) => ingest.ingest(messages) })
    : { url: externalBrokerUrl!, close: async () => undefined };
  const env = { DATA_DIR: dataDir, MQTT_URL: broker.url, MQTT_CLIENT_ID: `bench-bridge-${process.pid}` };
  const logs: string[] = [];
  const keep = (name: string) => (line: string) => logs.push(`[${name}] ${line}`);
  let subscribed = ingest !== undefined;
  const processor = service('apps/stream-processor/src/main.js', env, keep('processor'));
  const bridge = ingest
    ? undefined
    : service('apps/ingest-bridge/src/main.js', env, (line) => {
        if (line.includes('subscribed to')) subscribed = true;
        keep('bridge')(line);
      });
  try {
    for (let i = 0; !subscribed; i++) {
      if (i > 300 || (bridge && bridge.exitCode !== null)) throw new Error(`bridge did not subscribe:\n${logs.join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const log = EmbeddedStreamLog.open(path.join(dataDir, 'meterstream.db'), { partitions: 8 });
    let start = 0;
    let published = 0;
    const publisher = spawn(process.execPath, [...PROFILE, path.join(DIST, 'bench/src/publisher.js'), broker.url, JSON.stringify(workload)], { stdio: ['ignore', 'pipe', 'inherit'] });
    readline.createInterface({ input: publisher.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string; t: number };
      if (event.event === 'start') start = event.t;
      if (event.event === 'published') published = event.t;
    });

    const positions = new Map<string, string>();
    let aggregated = 0;
    let lastReport = Date.now();
    const deadline = Date.now() + 15 * 60_000;
    while (aggregated < expected) {
      if (Date.now() > deadline) throw new Error(`timed out with ${aggregated}/${expected} readings aggregated`);
      if ((bridge && bridge.exitCode !== null) || processor.exitCode !== null) throw new Error(`a service died:\n${logs.slice(-30).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
      for (const partition of await log.partitions(STREAMS.aggregates)) {
        for (;;) {
          const records = log.readSync(STREAMS.aggregates, partition, positions.get(partition) ?? null, 5000);
          if (records.length === 0) break;
          positions.set(partition, records[records.length - 1].position);
          for (const r of records) {
            const agg = decodeEnvelope<AggregateEnvelope>(r.value);
            if (agg.body.deviceId === undefined) aggregated += agg.body.count;
          }
        }
      }
      if (Date.now() - lastReport >= 1000) {
        lastReport = Date.now();
        progress(`  end-to-end: ${aggregated.toLocaleString('en')} / ${expected.toLocaleString('en')} readings aggregated, ${log.countSync(STREAMS.readings).toLocaleString('en')} in the log`);
      }
    }
    const end = Date.now();
    const inLog = log.countSync(STREAMS.readings) - closingMessages(workload).length; // minus the closing readings
    await log.close();
    await new Promise((resolve) => (publisher.exitCode !== null ? resolve(null) : publisher.once('exit', resolve)));
    const seconds = (end - start) / 1000;
    return {
      readings: expected,
      seconds,
      readingsPerSec: Math.round(expected / seconds),
      publishPerSec: Math.round(expected / ((published - start) / 1000)),
      inLog,
      aggregated,
      lost: expected - Math.min(inLog, aggregated),
    };
  } finally {
    if (bridge) await stop(bridge);
    await stop(processor);
    await broker.close();
    await ingestLog?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
