import mqtt from 'mqtt';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { decodeEnvelope, parseReading, STREAMS, type AggregateEnvelope, type Envelope, type ReadingEnvelope } from '@meterstream/contracts';
import { SqliteReadModel, type AggregateRow } from '@meterstream/read-model';
import { fleetLayout, generateMessages, runSimulator, type SimMessage, type SimulatorOptions } from '@meterstream/simulator';
import { KafkaStreamLog } from '@meterstream/stream/kafka';
import { assertKafkaReachable, collectingLogger, testBrokers, uniqueTopicPrefix } from '@meterstream/stream/kafka/testing';
import { makeTempDir, waitFor } from '@meterstream/test-harness';
import { expectedAggregates } from './expected-aggregates';
import { kafkaBrokerPid, kafkaEngine, readWholeStream, startKafkaServices, type KafkaServices } from './kafka-pipeline';
import { mosquitto, MOSQUITTO_URL } from './mosquitto';

const MINUTE = 60_000;
const SIM_MINUTES = 20;
/**
 * Simulated time lies ahead of the wall clock, and so of every other suite's readings: the shared
 * Mosquitto hands this bridge every suite's line/+/SmartMeterData message, and a foreign reading
 * later than these windows on a partition they share would push its watermark past them and make
 * these readings late. The bridge is told to accept the skew (BRIDGE_MAX_CLOCK_SKEW_MS);
 * expectedAggregates accepts readings up to a year ahead.
 */
const START = Date.parse('2027-06-07T17:00:00Z');
const BRIDGE_MAX_CLOCK_SKEW_MS = 366 * 24 * 60 * MINUTE;
const END = START + SIM_MINUTES * MINUTE;
/** Simulated ms per real ms: 20 simulated minutes in about 80 s, so the outage lands mid-run. */
const SPEED = 15;
/** How long the broker stays down (on top of the time the engine script takes to stop and start it). */
const OUTAGE_MS = 12_000;

/** Readings on Kafka: every copy's id, and the distinct ids. */
interface ReadingsOnKafka {
  copies: number;
  ids: Set<string>;
}

/** The ids of the valid readings among the messages, as the bridge (with its skew allowance) accepts them. */
function validReadingIds(messages: readonly { topic: string; payload: Buffer }[]): Set<string> {
  const ids = new Set<string>();
  for (const m of messages) {
    const parsed = parseReading(m.topic, m.payload, { ingestTime: Date.now(), maxFutureSkewMs: BRIDGE_MAX_CLOCK_SKEW_MS });
    if (parsed.ok) ids.add(parsed.envelope.id);
  }
  return ids;
}

/**
 * One reading per meter 5 minutes past the run: every line's event time (the lower median of its
 * meters' newest readings, which one extra meter could not move) passes its last window.
 */
function closingMessages(options: SimulatorOptions): { topic: string; payload: Buffer }[] {
  const ts = END + 5 * MINUTE;
  return fleetLayout(options).flatMap((line) =>
    line.meters.map(({ deviceId }) => ({ topic: line.topic, payload: Buffer.from(JSON.stringify({ deviceId, ts, voltage: 120 })) })),
  );
}

async function publishQos1(messages: readonly { topic: string; payload: Buffer }[], clientId: string): Promise<void> {
  const client = await mqtt.connectAsync(MOSQUITTO_URL, { clientId });
  for (const m of messages) await client.publishAsync(m.topic, m.payload, { qos: 1 });
  await client.endAsync();
}

/** The stream's records whose envelope belongs to one of the lines, decoded. */
async function recordsOf<T extends Envelope>(log: KafkaStreamLog, stream: string, lineIds: ReadonlySet<string>): Promise<T[]> {
  return (await readWholeStream(log, stream)).map((r) => decodeEnvelope<T>(r.value)).filter((e) => lineIds.has(e.lineId));
}

async function readingsOnKafka(log: KafkaStreamLog, lineIds: ReadonlySet<string>): Promise<ReadingsOnKafka> {
  const readings = await recordsOf<ReadingEnvelope>(log, STREAMS.readings, lineIds);
  return { copies: readings.length, ids: new Set(readings.map((r) => r.id)) };
}

/** The per-line windows of the run in the processor's SQLite read model; none before it exists. */
async function firedWindows(readModelFile: string, lineIds: readonly string[]): Promise<AggregateRow[]> {
  let model: SqliteReadModel;
  try {
    model = SqliteReadModel.open(readModelFile, { readonly: true });
  } catch {
    return [];
  }
  try {
    const windows: AggregateRow[] = [];
    for (const lineId of lineIds) windows.push(...(await model.aggregates(lineId, { from: START, to: END })));
    return windows;
  } finally {
    await model.close();
  }
}

/** Thrown when the shared broker was restarted by someone else's suite: the run proves nothing, rerun it. */
function assertBrokerIsOurs(expectedPid: number | null, when: string): void {
  const pid = kafkaBrokerPid();
  if (pid !== expectedPid) {
    throw new Error(`the Kafka broker was restarted by someone else ${when} (pid ${expectedPid} → ${pid}); this run proves nothing, rerun it`);
  }
}

describe('the Kafka broker restarted while the pipeline runs on it', () => {
  const temp = makeTempDir('meterstream-kafka-restart-');
  const clients: { close(): Promise<void> }[] = [];
  let services: KafkaServices | undefined;

  beforeAll(async () => {
    // Fail (never skip) when an engine is missing: `bash scripts/engines/up.sh mosquitto kafka`.
    await mosquitto();
    await assertKafkaReachable();
  });
  afterAll(async () => {
    await services?.stop();
    for (const client of clients) await client.close();
    // Whatever happened, leave a running broker for the suites after this one.
    await kafkaEngine('start');
    temp.cleanup();
  });

  it('the bridge and the processor recover by themselves: every valid reading on Kafka once, every one counted in the fired windows, same processes', async () => {
    const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
    const prefix = uniqueTopicPrefix('kafka-restart');
    // Line ids of this run only, so nothing another suite publishes on the shared broker mixes in.
    const options: SimulatorOptions = {
      seed: 23,
      lines: 5,
      metersPerLine: 10,
      intervalMs: 15_000,
      start: START,
      durationMs: SIM_MINUTES * MINUTE,
      faults: 'none',
      lineIdFormat: (index) => `KR${run}-L${String(index + 1).padStart(2, '0')}`,
    };
    const messages: SimMessage[] = [...generateMessages(options)];
    const lineIds = [...new Set(messages.map((m) => m.topic.split('/')[1]))].sort();
    const mine = new Set(lineIds);
    const closers = closingMessages(options);
    const published = [...messages, ...closers];
    const want = validReadingIds(published);
    expect(lineIds).toHaveLength(5);
    expect(want.size).toBe(5 * 10 * SIM_MINUTES * 4 + closers.length); // every simulated reading is valid

    const brokerPid = kafkaBrokerPid();
    expect(brokerPid).not.toBeNull();
    const log = new KafkaStreamLog({ brokers: testBrokers(), clientId: `kafka-restart-test-${run}`, topicPrefix: prefix, partitions: 8, logger: collectingLogger() });
    clients.push(log);
    const dataDir = path.join(temp.dir, 'services');
    services = await startKafkaServices({
      mqttUrl: MOSQUITTO_URL,
      mqttClientId: `kafka-restart-bridge-${run}`,
      brokers: testBrokers(),
      topicPrefix: prefix,
      dataDir,
      env: {
        STREAM_PARTITIONS: '8',
        // The outage must not count as idleness: an idle partition's watermark would move on by the wall clock.
        IDLE_TIMEOUT_MS: String(24 * 60 * MINUTE),
        MAX_CLOCK_SKEW_MS: String(BRIDGE_MAX_CLOCK_SKEW_MS),
        // No alert channel: the read model and the streams are what is checked.
        ALERT_CHANNELS: '',
      },
    });
    const { bridge, processor } = services;
    /** Fails at once (with its output) when either service exits, instead of at the next timeout. */
    const whileRunning = <T>(what: Promise<T>): Promise<T> =>
      Promise.race([
        what,
        Promise.race([bridge.exited, processor.exited]).then(() => {
          throw new Error(`a service exited during the run.\nbridge:\n${bridge.recentOutput()}\nprocessor:\n${processor.recentOutput()}`);
        }),
      ]);

    // --- Publish, and stop the broker for a while once a quarter of the run is out.
    let acknowledged = 0;
    const publishing = runSimulator({
      ...options,
      brokerUrl: MOSQUITTO_URL,
      qos: 1,
      speed: SPEED,
      clientId: `kafka-restart-sim-${run}`,
      onProgress: (p) => (acknowledged = p.published),
    });
    publishing.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    await whileRunning(waitFor(() => acknowledged >= messages.length / 4, { what: 'a quarter of the run published', timeoutMs: 120_000 }));
    const beforeOutage = await readingsOnKafka(log, mine);
    assertBrokerIsOurs(brokerPid, 'before the outage');
    const acknowledgedAtStop = acknowledged;
    await kafkaEngine('stop');
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS));
    const acknowledgedWhileDown = acknowledged;
    await kafkaEngine('start');
    const restartedPid = kafkaBrokerPid();
    const acknowledgedAtRestart = acknowledged;
    const result = await whileRunning(publishing);
    expect(result.published).toBe(messages.length);
    await publishQos1(closers, `kafka-restart-closer-${run}`);

    // The outage hit mid-stream: readings had reached Kafka before it, the simulator kept
    // publishing through it, and more was still to come after the broker was back.
    expect(beforeOutage.ids.size).toBeGreaterThan(0);
    expect(beforeOutage.ids.size).toBeLessThan(want.size);
    expect(acknowledgedWhileDown).toBeGreaterThan(acknowledgedAtStop);
    expect(acknowledgedAtRestart).toBeLessThan(messages.length);

    // --- Recovery: wait until every valid reading is on Kafka and every window of the run has fired.
    const readModelFile = path.join(dataDir, 'meterstream.db');
    const windowsPerRun = lineIds.length * SIM_MINUTES;
    const recovered = await whileRunning(
      waitFor(
        async () => {
          const onKafka = await readingsOnKafka(log, mine);
          const missing = [...want].filter((id) => !onKafka.ids.has(id)).length;
          const windows = await firedWindows(readModelFile, lineIds);
          if (missing > 0 || windows.length < windowsPerRun) {
            // Thrown, so a timeout says how far recovery got.
            throw new Error(`${missing} of ${want.size} readings missing on Kafka, ${windows.length} of ${windowsPerRun} windows fired`);
          }
          return { onKafka, windows };
        },
        { what: 'every reading on Kafka and every window fired', timeoutMs: 240_000, intervalMs: 1_000 },
      ),
    );
    assertBrokerIsOurs(restartedPid, 'after the restart');

    // Every valid reading is on the readings topic, exactly once after dedup by id (a send
    // retried after the outage may have written a copy twice), and nothing else of these lines.
    expect([...recovered.onKafka.ids].sort()).toEqual([...want].sort());

    // Every fired window counts exactly the distinct valid readings in it: the batch answer.
    const expected = expectedAggregates(published, MINUTE);
    const inRun = [...expected.values()].filter((w) => mine.has(w.lineId) && w.windowStart >= START && w.windowStart < END);
    expect(inRun).toHaveLength(windowsPerRun);
    const byWindow = (w: { lineId: string; windowStart: number }) => `${w.lineId}@${w.windowStart}`;
    const fired = new Map(recovered.windows.map((w) => [byWindow(w), w]));
    expect(fired.size).toBe(windowsPerRun);
    for (const batch of inRun) {
      const got = fired.get(byWindow(batch));
      expect({ window: byWindow(batch), count: got?.count, meters: got?.meters, min: got?.voltage.min, max: got?.voltage.max }).toEqual({
        window: byWindow(batch),
        count: batch.count,
        meters: batch.meters,
        min: batch.min,
        max: batch.max,
      });
      expect(got!.voltage.mean).toBeCloseTo(batch.mean, 9);
    }
    const counted = recovered.windows.reduce((n, w) => n + w.count, 0);
    expect(counted).toBe(want.size - closers.length);

    // The aggregates stream agrees with the read model: any repeated window is the same record,
    // and no reading of the run was routed to the late side output.
    const aggregates = await recordsOf<AggregateEnvelope>(log, STREAMS.aggregates, mine);
    const firstCopy = new Map<string, string>();
    const conflicting: string[] = [];
    for (const a of aggregates) {
      const text = JSON.stringify(a);
      const first = firstCopy.get(a.id);
      if (first === undefined) firstCopy.set(a.id, text);
      else if (first !== text) conflicting.push(a.id);
    }
    expect(conflicting).toEqual([]);
    const streamCounts = new Map(
      [...firstCopy.values()]
        .map((text) => JSON.parse(text) as AggregateEnvelope)
        .filter((a) => a.body.deviceId === undefined && a.body.windowStart >= START && a.body.windowStart < END)
        .map((a) => [byWindow(a.body), a.body.count]),
    );
    expect(streamCounts).toEqual(new Map([...fired].map(([key, w]) => [key, w.count])));
    expect(await recordsOf(log, STREAMS.lateReadings, mine)).toEqual([]);

    // Recovered by themselves: the very processes started before the outage are still running.
    expect({ bridge: bridge.running, processor: processor.running }).toEqual({ bridge: true, processor: true });
    expect(() => process.kill(bridge.pid, 0)).not.toThrow();
    expect(() => process.kill(processor.pid, 0)).not.toThrow();

    const appendFailures = bridge.output().filter((line) => line.includes('append failed')).length;
    console.log(
      `kafka restart: broker down after ${acknowledgedAtStop} of ${messages.length} messages (${beforeOutage.ids.size} readings on Kafka), ` +
        `back after ${acknowledgedAtRestart}; ${recovered.onKafka.copies - recovered.onKafka.ids.size} duplicate copies on Kafka; ` +
        `${appendFailures} failed bridge appends retried; ${aggregates.length - firstCopy.size} repeated aggregates`,
    );
  }, 600_000);
});
