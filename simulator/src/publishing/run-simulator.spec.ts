import { makeTempDir, waitFor } from '@meterstream/test-harness';
import { createBroker } from 'aedes';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import type { FaultSpec } from '../faults/fault-spec';
import { faultLabels, generateMessages } from '../generation/generate-messages';
import type { SimulatorOptions } from '../options';
import { runSimulator, type SimulatorProgress } from './run-simulator';

const START = Date.parse('2026-11-30T18:00:00Z');
const FAULTS: FaultSpec[] = [
  { kind: 'sag', lineId: 'L02', start: START + 5 * 60_000, end: START + 10 * 60_000 },
  { kind: 'duplicate', probability: 0.02 },
  { kind: 'out-of-order', probability: 0.02 },
  { kind: 'malformed', probability: 0.01 },
];

describe('runSimulator against an in-process MQTT broker (aedes)', () => {
  let broker: ReturnType<typeof createBroker>;
  let server: net.Server;
  let url: string;
  let subscriber: MqttClient;
  let received: Array<{ topic: string; payload: string }>;
  const temp = makeTempDir('meterstream-sim-');

  beforeAll(async () => {
    broker = createBroker();
    server = net.createServer(broker.handle as (socket: net.Socket) => void);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    subscriber = await connectAsync(url, { clean: true });
    await subscriber.subscribeAsync('line/+/SmartMeterData', { qos: 1 });
    subscriber.on('message', (topic, payload) => received.push({ topic, payload: payload.toString('base64') }));
  });

  beforeEach(() => {
    received = [];
  });

  afterAll(async () => {
    await subscriber.endAsync();
    await new Promise<void>((resolve) => broker.close(() => server.close(() => resolve())));
    temp.cleanup();
  });

  it('delivers exactly the generated messages at QoS 1, and writes the labels', async () => {
    const options: SimulatorOptions = { seed: 3, lines: 3, metersPerLine: 8, intervalMs: 15_000, start: START, durationMs: 30 * 60_000, faults: FAULTS };
    const expected = [...generateMessages(options)];
    const labelsFile = join(temp.dir, 'nested', 'labels.jsonl');
    const progress: SimulatorProgress[] = [];

    const result = await runSimulator({ ...options, brokerUrl: url, qos: 1, speed: 0, labelsFile, maxInFlight: 50, onProgress: (p) => progress.push(p) });

    expect(result).toEqual({ published: expected.length, simEnd: START + 30 * 60_000 });
    await waitFor(() => received.length >= expected.length, { timeoutMs: 10_000, what: `${expected.length} messages` });
    // One publisher, one subscriber: the broker keeps the send order, duplicates and delays included.
    expect(received).toEqual(expected.map((m) => ({ topic: m.topic, payload: m.payload.toString('base64') })));
    expect(progress[progress.length - 1]).toEqual({ published: expected.length, simTime: expected[expected.length - 1].simTime });

    const written = readFileSync(labelsFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const messageLabels = expected.filter((m) => m.label).map((m) => m.label);
    expect(written.filter((l) => 'seq' in l)).toEqual(messageLabels);
    expect(written.filter((l) => !('seq' in l))).toEqual(faultLabels(options));
    expect(messageLabels.length).toBeGreaterThan(10);
  });

  it('publishes at QoS 0 too', async () => {
    const options: SimulatorOptions = { seed: 4, lines: 2, metersPerLine: 5, intervalMs: 15_000, start: START, durationMs: 10 * 60_000, faults: 'none' };
    const result = await runSimulator({ ...options, brokerUrl: url, qos: 0, speed: 0 });
    expect(result.published).toBe(2 * 5 * 40);
    await waitFor(() => received.length >= result.published, { timeoutMs: 10_000, what: 'QoS 0 messages' });
    expect(received).toHaveLength(result.published);
  });

  it('paces by speed and stops cleanly when aborted, every published message acknowledged and delivered', async () => {
    const options: SimulatorOptions = { seed: 5, lines: 2, metersPerLine: 10, intervalMs: 15_000, start: START, durationMs: Infinity, faults: 'demo' };
    const controller = new AbortController();
    const labelsFile = join(temp.dir, 'aborted.jsonl');
    const begun = Date.now();
    // 600× real time: 20 meters every 15 s is 800 messages a second of wall-clock time.
    const running = runSimulator({ ...options, brokerUrl: url, qos: 1, speed: 600, signal: controller.signal, labelsFile });
    await waitFor(() => received.length >= 200, { timeoutMs: 10_000, what: 'the first 200 messages' });
    controller.abort();
    const result = await running;
    const elapsed = Date.now() - begun;

    expect(result.published).toBeGreaterThanOrEqual(200);
    // Pacing: the messages published cover at most `speed` times the time it took (plus one second of slack).
    expect(result.simEnd - START).toBeLessThanOrEqual(600 * (elapsed + 1_000));
    await waitFor(() => received.length >= result.published, { timeoutMs: 10_000, what: 'every acknowledged message' });
    const expected = generateMessages(options);
    const firstOnes = Array.from({ length: result.published }, () => expected.next().value!);
    expect(received.map((r) => r.payload)).toEqual(firstOnes.map((m) => m.payload.toString('base64')));
    expect(result.simEnd).toBe(firstOnes[firstOnes.length - 1].simTime);
    // Only what happened is labelled: no fault that starts after the point the run reached.
    const written = readFileSync(labelsFile, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(written.filter((l) => !('seq' in l) && Date.parse(l.start) > result.simEnd)).toEqual([]);
  });

  it('continues a stopped run from its state file exactly where it stopped, labels appended', async () => {
    // A finite run, so the uninterrupted one to compare with labels every fault it has.
    const options: SimulatorOptions = { seed: 6, lines: 2, metersPerLine: 10, intervalMs: 15_000, start: START, durationMs: 40 * 60_000, faults: FAULTS };
    const stateFile = join(temp.dir, 'resume', 'state.json');
    const labelsFile = join(temp.dir, 'resume', 'labels.jsonl');
    const controller = new AbortController();
    const running = runSimulator({ ...options, brokerUrl: url, qos: 1, speed: 600, signal: controller.signal, labelsFile, stateFile, maxInFlight: 20 });
    await waitFor(() => received.length >= 300, { timeoutMs: 10_000, what: 'the first 300 messages' });
    controller.abort();
    const first = await running;
    const labelsAfterFirst = readFileSync(labelsFile, 'utf8');
    expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ v: 1, seed: 6, start: START, acknowledged: first.published });

    // Asked to start elsewhere: the state file's start wins, and the run goes on from message `first.published`.
    const resumed: number[] = [];
    const second = await runSimulator({ ...options, start: START + 86_400_000, brokerUrl: url, qos: 1, speed: 0, labelsFile, stateFile, onResume: (r) => resumed.push(r.acknowledged) });
    expect(resumed).toEqual([first.published]);

    const expected = [...generateMessages(options)];
    expect(first.published + second.published).toBe(expected.length);
    await waitFor(() => received.length >= expected.length, { timeoutMs: 10_000, what: 'every message of both runs' });
    expect(received.map((r) => r.payload)).toEqual(expected.map((m) => m.payload.toString('base64')));
    // The labels file grew: the first run's lines, then the rest, together what one run writes.
    const written = readFileSync(labelsFile, 'utf8');
    expect(written.startsWith(labelsAfterFirst)).toBe(true);
    const labels = written.trim().split('\n').map((line) => JSON.parse(line));
    expect(labels.filter((l) => 'seq' in l)).toEqual(expected.filter((m) => m.label).map((m) => m.label));
    expect(labels.filter((l) => !('seq' in l))).toEqual(faultLabels(options));
  });

  it('refuses a state file of another fleet instead of mixing two', async () => {
    const stateFile = join(temp.dir, 'other-fleet.json');
    const options: SimulatorOptions = { seed: 7, lines: 1, metersPerLine: 2, intervalMs: 15_000, start: START, durationMs: 60_000, faults: 'none' };
    await runSimulator({ ...options, brokerUrl: url, qos: 1, speed: 0, stateFile });
    await expect(runSimulator({ ...options, lines: 2, brokerUrl: url, qos: 1, speed: 0, stateFile })).rejects.toThrow(
      /belongs to a simulated fleet with lines 1 \(now 2\): run with the same options to continue it, or use another data directory/,
    );
  });

  it('fails fast when the broker is unreachable', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const options: SimulatorOptions = { seed: 1, lines: 1, metersPerLine: 1, intervalMs: 15_000, start: START, durationMs: 60_000, faults: 'none' };
    await expect(runSimulator({ ...options, brokerUrl: `mqtt://127.0.0.1:${port}`, qos: 1, speed: 0 })).rejects.toThrow();
  });

  it('checks its options before connecting', async () => {
    const options: SimulatorOptions = { seed: 1, lines: 1, metersPerLine: 1, intervalMs: 15_000, start: START, durationMs: 60_000, faults: [{ kind: 'sag', lineId: 'L07', start: START, end: START + 1 }] };
    await expect(runSimulator({ ...options, brokerUrl: 'mqtt://127.0.0.1:1', qos: 1, speed: 0 })).rejects.toThrow(/no line "L07"/);
  });
});
