import mqtt from 'mqtt';
import * as path from 'node:path';
import { decodeEnvelope, parseReading, STREAMS, type ReadingEnvelope } from '@meterstream/contracts';
import { fleetLayout, generateMessages, runSimulator, type FaultSpec, type SimMessage, type SimulatorOptions } from '@meterstream/simulator';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { makeTempDir, PipelineProcesses, waitFor } from '@meterstream/test-harness';
import { expectedAggregates } from './expected-aggregates';

const START = Date.parse('2026-03-02T17:00:00Z');
const MINUTE = 60_000;
const SIM_MINUTES = 20;

/** A window as GET /lines/{id}/aggregates answers it (the fields the e2e suites compare). */
export interface AggregateDto {
  lineId: string;
  windowStart: string;
  count: number;
  meters: number;
  voltage: { min: number; max: number; mean: number; stddev: number; p5: number | null; p95: number | null };
  energyKwh: number | null;
}
interface AlertDto {
  alertId: string;
  kind: string;
  state: string;
  lineId: string;
}

export interface BrokerUnderTest {
  url: string;
  close(): Promise<void>;
}

const faults: FaultSpec[] = [
  { kind: 'malformed', probability: 0.01 },
  { kind: 'duplicate', probability: 0.01 },
  { kind: 'out-of-order', probability: 0.02, params: { minDelayMs: 1_000, maxDelayMs: 8_000 } },
  { kind: 'sag', lineId: 'L02', start: START + 6 * MINUTE, end: START + 10 * MINUTE, params: { deltaV: 12 } },
];

function simulatorOptions(seed: number): SimulatorOptions {
  return { seed, lines: 4, metersPerLine: 10, intervalMs: 15_000, start: START, durationMs: SIM_MINUTES * MINUTE, faults };
}

/**
 * One reading per meter well past the run: every line's event time (the lower median of its
 * meters' newest readings) passes the last window. (One reading from one extra meter would not
 * move it: that is what keeps a single fast meter clock from closing a line's windows early.)
 */
async function publishClosingReadings(url: string, options: SimulatorOptions): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: `closer-${Date.now()}` });
  const ts = START + (SIM_MINUTES + 5) * MINUTE;
  for (const line of fleetLayout(options)) {
    await Promise.all(line.meters.map(({ deviceId }) => client.publishAsync(line.topic, JSON.stringify({ deviceId, ts, voltage: 120 }), { qos: 1 })));
  }
  await client.endAsync();
}

function readingIdsInLog(dataDir: string): Set<string> {
  const log = EmbeddedStreamLog.open(path.join(dataDir, 'meterstream.db'), { partitions: 8 });
  const ids = new Set<string>();
  for (let p = 0; p < log.partitionCount(STREAMS.readings); p++) {
    let after: string | null = null;
    for (;;) {
      const records = log.readSync(STREAMS.readings, String(p), after, 10_000);
      if (records.length === 0) break;
      after = records[records.length - 1].position;
      for (const r of records) ids.add(decodeEnvelope<ReadingEnvelope>(r.value).id);
    }
  }
  void log.close();
  return ids;
}

function validIds(messages: SimMessage[]): Set<string> {
  const ids = new Set<string>();
  for (const m of messages) {
    const parsed = parseReading(m.topic, m.payload, { ingestTime: Date.now() + 365 * 86_400_000 });
    if (parsed.ok) ids.add(parsed.envelope.id);
  }
  return ids;
}

/**
 * The whole pipeline through a real MQTT broker, with the bridge, processor and API as separate
 * processes built from dist/ (as `npm start` runs them).
 */
export function describePipeline(brokerName: string, startBroker: (dataDir: string) => Promise<BrokerUnderTest>, suite: { bridge: boolean }): void {
  describe(`the pipeline through ${brokerName}`, () => {
    let broker: BrokerUnderTest;
    let temp: ReturnType<typeof makeTempDir>;
    let pipeline: PipelineProcesses | undefined;

    beforeEach(async () => {
      temp = makeTempDir('meterstream-e2e-');
      broker = await startBroker(temp.dir);
    });
    afterEach(async () => {
      await pipeline?.stop();
      pipeline = undefined;
      await broker.close();
      temp.cleanup();
    });

    it('computes exact window aggregates, keeps every malformed message and every acknowledged reading, and raises and clears the sag alert', async () => {
      pipeline = await PipelineProcesses.start({ mqttUrl: broker.url, dataDir: temp.dir, bridge: suite.bridge, env: { MQTT_CLIENT_ID: `e2e-bridge-${Date.now()}` } });
      const options = simulatorOptions(11);
      const messages = [...generateMessages(options)];
      const malformed = messages.filter((m) => !m.valid);
      expect(malformed.length).toBeGreaterThan(5);
      expect(messages.some((m) => m.label?.kind === 'duplicate')).toBe(true);
      expect(messages.some((m) => m.label?.kind === 'out-of-order')).toBe(true);

      const result = await runSimulator({ ...options, brokerUrl: broker.url, qos: 1, speed: 0 });
      expect(result.published).toBe(messages.length);
      await publishClosingReadings(broker.url, options);

      const expected = expectedAggregates(messages, MINUTE);
      const from = new Date(START).toISOString();
      const to = new Date(START + SIM_MINUTES * MINUTE).toISOString();
      for (const lineId of ['L01', 'L02', 'L03', 'L04']) {
        const windows = await waitFor(
          async () => {
            const body = await pipeline!.get<{ windows: AggregateDto[] }>(`/lines/${lineId}/aggregates?from=${from}&to=${to}`);
            return body.windows.length === SIM_MINUTES ? body.windows : undefined;
          },
          { what: `${SIM_MINUTES} windows of ${lineId}`, timeoutMs: 60_000 },
        );
        for (const w of windows) {
          const want = expected.get(`${lineId}@${Date.parse(w.windowStart)}`);
          expect(want).toBeDefined();
          expect({ count: w.count, meters: w.meters, min: w.voltage.min, max: w.voltage.max, p5: w.voltage.p5, p95: w.voltage.p95 }).toEqual({
            count: want!.count,
            meters: want!.meters,
            min: want!.min,
            max: want!.max,
            p5: want!.p5,
            p95: want!.p95,
          });
          expect(w.voltage.mean).toBeCloseTo(want!.mean, 9);
          expect(w.voltage.stddev).toBeCloseTo(want!.stddev, 9);
          expect(w.energyKwh).toBeCloseTo(want!.energyKwh!, 9); // the simulated meters all report kwh
        }
      }

      const { deadLetters } = await pipeline.get<{ deadLetters: { payloadBase64: string; reason: string; topic: string }[] }>('/dead-letters?limit=1000');
      const stored = new Set(deadLetters.map((d) => `${d.topic} ${d.payloadBase64}`));
      for (const m of malformed) expect(stored.has(`${m.topic} ${m.payload.toString('base64')}`)).toBe(true);
      expect(deadLetters.every((d) => d.reason.length > 10)).toBe(true);

      const inLog = readingIdsInLog(temp.dir);
      const missing = [...validIds(messages)].filter((id) => !inLog.has(id));
      expect(missing).toEqual([]);

      const { alerts } = await pipeline.get<{ alerts: AlertDto[] }>('/alerts');
      expect(alerts.map((a) => [a.lineId, a.kind, a.state])).toEqual([['L02', 'voltage-low', 'cleared']]);
    }, 300_000);

    // With ingest inside the embedded broker there is no bridge to kill: e2e/src/launcher-crash.spec.ts
    // kills the whole `npm start` instead.
    if (!suite.bridge) return;
    it('loses no acknowledged reading when the bridge is killed with SIGKILL mid-run and started again', async () => {
      pipeline = await PipelineProcesses.start({ mqttUrl: broker.url, dataDir: temp.dir, env: { MQTT_CLIENT_ID: `e2e-kill-${Date.now()}` } });
      const options: SimulatorOptions = { seed: 5, lines: 4, metersPerLine: 25, intervalMs: 15_000, start: START, durationMs: 30 * MINUTE, faults: 'none' };
      const messages = [...generateMessages(options)];
      // Paced so the run lasts several seconds and the kill lands in the middle of it.
      const run = runSimulator({ ...options, brokerUrl: broker.url, qos: 1, speed: 300 });
      await waitFor(() => readingIdsInLog(temp.dir).size > messages.length / 5, { what: 'a fifth of the run in the log', timeoutMs: 60_000 });
      await pipeline.kill('bridge');
      const whileDown = readingIdsInLog(temp.dir).size;
      expect(whileDown).toBeLessThan(messages.length);
      await new Promise((r) => setTimeout(r, 1_000));
      await pipeline.restart('bridge');
      await run;
      const want = validIds(messages);
      const inLog = await waitFor(() => {
        const ids = readingIdsInLog(temp.dir);
        return [...want].every((id) => ids.has(id)) ? ids : undefined;
      }, { what: 'every published reading in the log', timeoutMs: 60_000 });
      expect(inLog.size).toBe(want.size);
    }, 300_000);
  });
}
