import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { IngestConfig } from '@meterstream/config';
import { STREAMS } from '@meterstream/contracts';
import { createIngest, RawStreamIngest, toIotRuleRecord, type Ingest } from '@meterstream/ingest';
import type { StreamLog } from '@meterstream/stream';
import { DurableSubscriber, startEmbeddedBroker } from '@meterstream/mqtt';
import { closingMessages, workloadMessages, type Workload } from '../workload';
import { openBackend } from './backend-logs';

const DIST = path.resolve(__dirname, '../../..');
/** The port stream the IoT topic rule writes (the bridge's INGEST_RAW_STREAM default). */
const RAW_STREAM = 'raw';
const TIMEOUT_MS = 10 * 60_000;

export interface IngestRate {
  name: string;
  /** Readings stored in `readings` per second, from the first message to the last one stored. */
  readingsPerSec: number;
  seconds: number;
  readings: number;
}

/** The bridge's two inputs into the same Kinesis (kinesalite) `readings` stream, measured one after the other in this run. */
export interface IngestSourcesResult {
  name: string;
  mqtt: IngestRate;
  rawStream: IngestRate & {
    /** Writing the rule's records to the raw stream beforehand (PutRecords, 500 at a time), untimed in readingsPerSec: what the rule itself would do. */
    putRecordsPerSec: number;
  };
  /** rawStream.readingsPerSec / mqtt.readingsPerSec. */
  rawStreamToMqtt: number;
}

const fmt = (n: number) => n.toLocaleString('en');
const secondsSince = (fromNs: bigint) => Number(process.hrtime.bigint() - fromNs) / 1e9;

async function until(what: () => boolean, why: () => string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!what()) {
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The ingest bridge's two inputs, each into a fresh set of Kinesis streams on kinesalite, with
 * the same Ingest (contract, readings and dead letters) behind them:
 *
 * - MQTT: the workload published with QoS 1 (the bench's publisher process) to an aedes broker
 *   that only forwards, taken by the bridge's DurableSubscriber (group commit, PUBACK after the
 *   append). The clock runs from the first publish until every reading is stored.
 * - raw stream: the same messages written first as the IoT topic rule writes them (one record
 *   per message, keyed by line, `{payload: base64, topic, receivedAt}`), then read by the bridge's
 *   RawStreamIngest (read a batch of records, ingest, commit the positions). The clock runs from
 *   its first poll until every reading is stored.
 *
 * Both run in this process with the broker (MQTT) or alone (raw stream), against the same
 * emulator, so the ratio compares the two paths on this machine; it says nothing about AWS IoT
 * Core's per-connection limit (100 publishes/s), which is why the raw stream exists.
 */
export async function measureIngestSources(workload: Workload, progress: (line: string) => void): Promise<IngestSourcesResult> {
  const messages = [...workloadMessages(workload), ...closingMessages(workload)];
  const readings = workload.lines * workload.metersPerLine * (workload.intervals + 1);
  const mqtt = await measureMqtt(workload, readings, progress);
  const rawStream = await measureRawStream(messages, readings, progress);
  return {
    name:
      `the same ${fmt(readings)} readings into Kinesis readings on kinesalite through the bridge's Ingest: ` +
      'MQTT QoS 1 via aedes and the durable subscriber, vs the IoT rule raw stream read by RawStreamIngest (records written beforehand)',
    mqtt,
    rawStream,
    rawStreamToMqtt: Number((rawStream.readingsPerSec / mqtt.readingsPerSec).toFixed(3)),
  };
}

async function measureMqtt(workload: Workload, readings: number, progress: (line: string) => void): Promise<IngestRate> {
  const backend = openBackend('kinesis', (m) => progress(`ingest mqtt: ${m}`));
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
  let subscriber: DurableSubscriber | undefined;
  try {
    const ingest = await readyIngest(backend.log, backend.config);
    subscriber = new DurableSubscriber({
      url: broker.url,
      clientId: `bench-bridge-${process.pid}`,
      topics: ['line/#'],
      maxBatch: backend.config.BRIDGE_BATCH_MAX,
      maxInFlight: backend.config.BRIDGE_MAX_INFLIGHT,
      handleBatch: (batch) => ingest.ingest(batch),
    });
    subscriber.on('batch-error', (err: Error) => progress(`ingest mqtt: batch retried: ${err.message}`));
    await subscriber.start();
    let startedAt = 0;
    const publisher = spawn(process.execPath, [path.join(DIST, 'bench/src/publisher.js'), broker.url, JSON.stringify(workload)], { stdio: ['ignore', 'pipe', 'inherit'] });
    readline.createInterface({ input: publisher.stdout! }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string; t: number };
      if (event.event === 'start') startedAt = event.t;
    });
    const timer = setInterval(() => progress(`ingest mqtt: ${fmt(ingest.counters.readings)} / ${fmt(readings)} readings stored`), 1000);
    try {
      await until(
        () => ingest.counters.readings >= readings,
        () => `ingest mqtt: timed out with ${fmt(ingest.counters.readings)} of ${fmt(readings)} readings stored`,
      );
    } finally {
      clearInterval(timer);
      if (publisher.exitCode === null) await new Promise((resolve) => publisher.once('exit', resolve));
    }
    const seconds = (Date.now() - startedAt) / 1000;
    progress(`ingest mqtt: ${fmt(Math.round(readings / seconds))} readings/s (${seconds.toFixed(2)} s)`);
    return { name: 'MQTT QoS 1 → aedes → the bridge’s durable subscriber → Ingest → Kinesis', readingsPerSec: Math.round(readings / seconds), seconds: Number(seconds.toFixed(2)), readings };
  } finally {
    await subscriber?.stop();
    await broker.close();
    await backend.dispose();
  }
}

async function measureRawStream(messages: { topic: string; payload: Buffer }[], readings: number, progress: (line: string) => void): Promise<IngestSourcesResult['rawStream']> {
  const backend = openBackend('kinesis', (m) => progress(`ingest raw stream: ${m}`), [RAW_STREAM]);
  try {
    const { log, config } = backend;
    const ingest = await readyIngest(log, config);
    await log.partitions(RAW_STREAM);
    const receivedAt = Date.now();
    const putStart = process.hrtime.bigint();
    for (let i = 0; i < messages.length; i += 500) {
      // As the rule writes them: the line (topic(2)) as partition key, the SELECT's JSON as data.
      await log.append(
        RAW_STREAM,
        messages.slice(i, i + 500).map((m) => ({ key: m.topic.split('/')[1], value: toIotRuleRecord(m.topic, m.payload, receivedAt) })),
      );
    }
    const putSeconds = secondsSince(putStart);
    progress(`ingest raw stream: ${fmt(messages.length)} rule records written at ${fmt(Math.round(messages.length / putSeconds))} records/s`);

    const consumer = new RawStreamIngest(log, ingest, {
      stream: RAW_STREAM,
      group: `meterstream-bench-${process.pid}`,
      maxRecordsPerPoll: config.BRIDGE_BATCH_MAX,
      idlePollMs: 20,
      onError: (err) => progress(`ingest raw stream: ${err.message}`),
    });
    await consumer.join();
    const timer = setInterval(() => progress(`ingest raw stream: ${fmt(ingest.counters.readings)} / ${fmt(readings)} readings stored`), 1000);
    const start = process.hrtime.bigint();
    try {
      await consumer.start();
      await until(
        () => ingest.counters.readings >= readings,
        () => `ingest raw stream: timed out with ${fmt(ingest.counters.readings)} of ${fmt(readings)} readings stored`,
      );
    } finally {
      clearInterval(timer);
      await consumer.stop();
    }
    const seconds = secondsSince(start);
    progress(`ingest raw stream: ${fmt(Math.round(readings / seconds))} readings/s (${seconds.toFixed(2)} s)`);
    return {
      name: 'IoT rule records on the raw Kinesis stream → RawStreamIngest → Ingest → Kinesis',
      readingsPerSec: Math.round(readings / seconds),
      seconds: Number(seconds.toFixed(2)),
      readings,
      putRecordsPerSec: Math.round(messages.length / putSeconds),
    };
  } finally {
    await backend.dispose();
  }
}

/** The bridge's Ingest on `log`, its output streams created before any clock starts. */
async function readyIngest(log: StreamLog, config: IngestConfig): Promise<Ingest> {
  await log.partitions(STREAMS.readings);
  await log.partitions(STREAMS.deadLetters);
  return createIngest(log, config);
}
