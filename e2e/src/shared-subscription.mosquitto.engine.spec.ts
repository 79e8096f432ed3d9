import mqtt from 'mqtt';
import * as path from 'node:path';
import { parseMessage, STREAMS, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { fleetLayout, generateMessages, runSimulator, type FaultSpec, type SimulatorOptions } from '@meterstream/simulator';
import { envelopesInLog, makeTempDir, PipelineProcesses, waitFor } from '@meterstream/test-harness';
import { expectedAggregates } from './expected-aggregates';
import { OwnMosquitto } from './own-mosquitto';

/**
 * Bridge scale-out with an MQTT shared subscription (issue 14): two bridge processes subscribe as
 * one group ($share/<MQTT_SHARED_GROUP>/line/#) on Mosquitto, which hands each message to one of
 * them; both append to the same stream. One is SIGKILLed mid-stream and started again with its
 * client id.
 *
 * How Mosquitto (2.0) treats the group member that died, shown here: its session is persistent
 * (clean session off), so the messages it had in flight, unacknowledged, stay in its session, and
 * Mosquitto keeps choosing it in its turn while it is away, queueing those messages too. Nothing
 * goes to the survivor instead: the dead member's share waits until a process with its client id
 * comes back (MQTT 5 §4.8.2 allows either). So each bridge needs a stable client id of its own and
 * a supervisor that restarts it.
 *
 * "Nothing counted twice", honestly: the stream is at-least-once. A batch the killed bridge had
 * appended but not yet acknowledged is delivered again and appended again, so the stream may hold a
 * reading twice. What must hold is that the pipeline counts each reading once: the processor
 * recognises a repeat by its event id, and its window aggregates equal the batch answer computed
 * from the published messages, each reading counted once (expectedAggregates).
 */

const MINUTE = 60_000;
const SIM_MINUTES = 30;
// Two hours ago, on a whole minute: past, so the run is not held back to real time.
const START = Math.floor((Date.now() - 2 * 3_600_000) / MINUTE) * MINUTE;
/**
 * The killed bridge's share arrives after its restart, behind readings its group partner already
 * stored: a generous out-of-orderness keeps those readings on time, so the aggregates can be exact.
 */
const OUT_OF_ORDERNESS_MS = 60 * MINUTE;
const faults: FaultSpec[] = [
  { kind: 'malformed', probability: 0.01 },
  { kind: 'duplicate', probability: 0.01 },
];
const SIMULATION: SimulatorOptions = { seed: 19, lines: 4, metersPerLine: 25, intervalMs: 15_000, start: START, durationMs: SIM_MINUTES * MINUTE, faults };

interface AggregateDto {
  windowStart: string;
  count: number;
  meters: number;
  voltage: { min: number; max: number; mean: number };
}

const validIds = (messages: { topic: string; payload: Buffer }[]) =>
  new Set(messages.flatMap((m) => parseMessage(m.topic, m.payload, { ingestTime: Date.now() }).readings.map((r) => r.id)));
const ingestedBy = (output: string) => Number(/stopped after (\d+) readings/.exec(output)?.[1] ?? NaN);

describe('two ingest bridges sharing one subscription on Mosquitto ($share), one SIGKILLed mid-stream', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let broker: OwnMosquitto | undefined;
  let pipeline: PipelineProcesses | undefined;
  let url = '';

  beforeAll(async () => {
    temp = makeTempDir('meterstream-shared-');
    // Deep queues as in scripts/engines/mosquitto.sh: the dead bridge's share waits in its session.
    broker = await OwnMosquitto.launch(
      temp.dir,
      ({ port, logFile }) => `
listener ${port} 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages 1000000
max_queued_bytes 0
log_dest file ${logFile}
`,
    );
    url = `mqtt://127.0.0.1:${broker.port}`;
  }, 60_000);

  afterAll(async () => {
    await pipeline?.stop();
    await broker?.close();
    temp?.cleanup();
  }, 60_000);

  it('splits the fleet between them, loses nothing acknowledged and counts nothing twice', async () => {
    const dataDir = path.join(temp.dir, 'data');
    pipeline = await PipelineProcesses.start({
      mqttUrl: url,
      dataDir,
      bridge: false,
      // A line's idle timeout must not close its windows while the killed bridge's share waits.
      env: { MQTT_SHARED_GROUP: 'meterstream-bridges', OUT_OF_ORDERNESS_MS: String(OUT_OF_ORDERNESS_MS), IDLE_TIMEOUT_MS: String(OUT_OF_ORDERNESS_MS) },
    });
    await pipeline.spawnBridge('bridge-a', { MQTT_CLIENT_ID: 'shared-bridge-a' });
    await pipeline.spawnBridge('bridge-b', { MQTT_CLIENT_ID: 'shared-bridge-b' });
    expect(pipeline.output('bridge-a')).toContain('subscribed to $share/meterstream-bridges/line/#');

    const messages = [...generateMessages(SIMULATION)];
    const want = validIds(messages);
    const malformed = messages.filter((m) => !m.valid);
    expect(malformed.length).toBeGreaterThan(20);
    expect(messages.some((m) => m.label?.kind === 'duplicate')).toBe(true);
    const readingIds = () => new Set(envelopesInLog<ReadingEnvelope>(dataDir, STREAMS.readings).map((r) => r.id));

    // Paced so the run lasts several seconds and the kill lands in the middle of it.
    const run = runSimulator({ ...SIMULATION, brokerUrl: url, qos: 1, speed: 200, clientId: 'shared-simulator' });
    await waitFor(() => readingIds().size > want.size / 4, { what: 'a quarter of the run in the stream', timeoutMs: 120_000, intervalMs: 200 });
    await pipeline.kill('bridge-b');
    const result = await run;
    expect(result.published).toBe(messages.length); // every publish acknowledged by the broker

    // With bridge B dead, bridge A stores its own share and no more: B's waits in B's session.
    let previous = -1;
    const whileDown = await waitFor(
      async () => {
        const size = readingIds().size;
        const stable = size === previous;
        previous = size;
        if (!stable) await new Promise((r) => setTimeout(r, 2_000));
        return stable ? size : undefined;
      },
      { what: 'the stream to stop growing while bridge B is down', timeoutMs: 120_000, intervalMs: 1_000 },
    );
    expect(whileDown).toBeLessThan(want.size);

    await pipeline.restart('bridge-b');
    expect(pipeline.output('bridge-b')).toContain('(resumed session)');
    const inLog = await waitFor(
      () => {
        const ids = readingIds();
        return [...want].every((id) => ids.has(id)) ? ids : undefined;
      },
      { what: `all ${want.size} published readings in the stream`, timeoutMs: 120_000, intervalMs: 1_000 },
    ).catch((err: Error) => {
      const ids = readingIds();
      throw new Error(`${err.message}; ${[...want].filter((id) => !ids.has(id)).length} missing\nbridge-b:\n${pipeline!.output('bridge-b')}`);
    });
    expect([...inLog].filter((id) => !want.has(id))).toEqual([]); // nothing the fleet did not send
    const letters = new Set(envelopesInLog<DeadLetterEnvelope>(dataDir, STREAMS.deadLetters).map((d) => `${d.body.topic} ${d.body.payload}`));
    expect(malformed.filter((m) => !letters.has(`${m.topic} ${m.payload.toString('base64')}`))).toEqual([]);

    // Close the windows: every meter reports once more, past the last window and the out-of-orderness.
    const closer = await mqtt.connectAsync(url, { clientId: 'shared-closer' });
    const ts = START + SIM_MINUTES * MINUTE + OUT_OF_ORDERNESS_MS + 2 * MINUTE;
    for (const line of fleetLayout(SIMULATION)) {
      await Promise.all(line.meters.map(({ deviceId }) => closer.publishAsync(line.topic, JSON.stringify({ deviceId, ts, voltage: 120 }), { qos: 1 })));
    }
    await closer.endAsync();

    const expected = expectedAggregates(messages, MINUTE);
    const from = new Date(START).toISOString();
    const to = new Date(START + SIM_MINUTES * MINUTE).toISOString();
    for (const line of fleetLayout(SIMULATION)) {
      const windows = await waitFor(
        async () => {
          const body = await pipeline!.get<{ windows: AggregateDto[] }>(`/lines/${line.lineId}/aggregates?from=${from}&to=${to}`);
          return body.windows.length === SIM_MINUTES ? body.windows : undefined;
        },
        { what: `${SIM_MINUTES} windows of ${line.lineId}`, timeoutMs: 120_000, intervalMs: 500 },
      );
      for (const w of windows) {
        const wanted = expected.get(`${line.lineId}@${Date.parse(w.windowStart)}`);
        expect([line.lineId, w.windowStart, w.count, w.meters, w.voltage.min, w.voltage.max]).toEqual([line.lineId, w.windowStart, wanted?.count, wanted?.meters, wanted?.min, wanted?.max]);
        expect(w.voltage.mean).toBeCloseTo(wanted!.mean, 9);
      }
    }

    // Both took a share: each stored readings, and neither all of them.
    await pipeline.stop();
    const [a, b] = [ingestedBy(pipeline.output('bridge-a')), ingestedBy(pipeline.output('bridge-b'))];
    console.log(`shared subscription: bridge A stored ${a} readings, bridge B after its restart ${b} (of ${want.size}); ${whileDown} were in the stream while B was down`);
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(a).toBeLessThan(want.size);
  }, 600_000);
});
