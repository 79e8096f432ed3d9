import mqtt, { type MqttClient } from 'mqtt';
import * as path from 'node:path';
import { STREAMS, type ReadingEnvelope } from '@meterstream/contracts';
import { Ingest } from '@meterstream/ingest';
import { startEmbeddedBroker, type EmbeddedBroker } from '@meterstream/mqtt';
import { EmbeddedStreamLog, partitionForKey } from '@meterstream/stream';
import { envelopesInLog, makeTempDir, PipelineProcesses, waitFor } from '@meterstream/test-harness';

/**
 * Issue 16, end to end: event time per line through a real MQTT broker (aedes ingesting in
 * process, as `npm start` runs it), with the processor and the API as separate processes built
 * from dist/. Readings are stamped with their arrival by the broker's ingest (the wall clock), so
 * delivery delays here are real ones.
 */

const MINUTE = 60_000;
const PARTITIONS = 8;
/** The documented setting for AMI head-ends uploading 15-minute bulks (README, "AMI head-ends that upload in bulk"). */
const HEAD_END_TIMING = '[{"match":"HE1-*","outOfOrdernessMs":900000,"idleTimeoutMs":1200000}]';

interface WindowDto {
  windowStart: string;
  count: number;
  meters: number;
}
interface LineDto {
  lineId: string;
  lateReadings: number;
  deliveryDelay: { ewmaMs: number; maxMs: number; measuredAt: string } | null;
}
interface DeadLetterDto {
  lineId: string;
  deviceId: string | null;
  reason: string;
}
interface AlertDto {
  kind: string;
  state: string;
  lineId: string;
  deviceId: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
/** A voltage that varies by meter and time (identical values in a row would read as a stuck meter). */
const volts = (k: number, i: number) => 119 + ((i * 7 + k * 3) % 10) / 10;

/** The first candidate line id that lands on the same `readings` partition as `lineId`. */
function sharingPartitionWith(lineId: string, candidates: string[]): string {
  const partition = partitionForKey(lineId, PARTITIONS);
  const found = candidates.find((c) => partitionForKey(c, PARTITIONS) === partition);
  if (found === undefined) throw new Error(`no candidate shares partition ${partition} with ${lineId}`);
  return found;
}

describe('event time per line, through the embedded broker', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let log: EmbeddedStreamLog | undefined;
  let broker: EmbeddedBroker | undefined;
  let pipeline: PipelineProcesses | undefined;
  let meters: MqttClient | undefined;

  async function start(env: Record<string, string>): Promise<{ url: string; pipeline: PipelineProcesses }> {
    log = EmbeddedStreamLog.open(path.join(temp.dir, 'meterstream.db'), { partitions: PARTITIONS });
    const ingest = new Ingest(log, { maxFutureSkewMs: 60 * MINUTE });
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, ingest: (messages) => ingest.ingest(messages) });
    // No alert channel: the streams, the read model and the API are what is checked.
    pipeline = await PipelineProcesses.start({ mqttUrl: broker.url, dataDir: temp.dir, bridge: false, env: { ALERT_CHANNELS: '', ...env } });
    meters = await mqtt.connectAsync(broker.url, { clientId: `e2e-meters-${Date.now()}` });
    return { url: broker.url, pipeline };
  }

  const publish = (lineId: string, body: object) => meters!.publishAsync(`line/${lineId}/SmartMeterData`, JSON.stringify(body), { qos: 1 });
  const lateOf = (lineId: string) => envelopesInLog<ReadingEnvelope>(temp.dir, STREAMS.lateReadings).filter((r) => r.lineId === lineId);

  beforeEach(() => {
    temp = makeTempDir('meterstream-line-clocks-e2e-');
  });
  afterEach(async () => {
    // Every child process and connection, whatever the test got to.
    await meters?.endAsync(true).catch(() => undefined);
    await pipeline?.stop();
    await broker?.close();
    await log?.close();
    meters = undefined;
    pipeline = undefined;
    broker = undefined;
    log = undefined;
    temp.cleanup();
  });

  it('gives a live line and a line whose collector is 3 minutes behind (one partition) complete windows, dead-letters one reading of a meter 50 minutes fast, and nobody is late', async () => {
    // 5-second windows so half a minute of real time makes several; the idle timeout (on the
    // ingest clock, once the processor is caught up) closes the last windows after the meters stop.
    // (15 s: well above a second between readings, so a busy machine does not make a line idle.)
    const { pipeline: p } = await start({ WINDOW_SIZE_MS: '5000', IDLE_TIMEOUT_MS: '15000' });
    const LIVE = 'LIVE-01';
    const COLLECTOR = sharingPartitionWith(LIVE, Array.from({ length: 99 }, (_, i) => `COL-${String(i + 1).padStart(2, '0')}`));
    expect(partitionForKey(COLLECTOR, PARTITIONS)).toBe(partitionForKey(LIVE, PARTITIONS));
    const METERS = 3;
    const SECONDS = 30;
    const S = Math.ceil(Date.now() / 5_000) * 5_000 + 5_000; // a window boundary a few seconds ahead
    const BEHIND = 3 * MINUTE;

    // Every second: each meter of the live line reads now; the collector forwards its meters'
    // readings of 3 minutes ago. At second 10 a meter whose clock is 50 minutes fast sends one
    // reading; from second 12 another meter, 5 minutes fast, sends five (flagged, not refused).
    for (let i = 0; i < SECONDS; i++) {
      await sleep(S + i * 1_000 - Date.now());
      const ts = S + i * 1_000;
      const sent: Promise<unknown>[] = [];
      for (let k = 0; k < METERS; k++) {
        sent.push(publish(LIVE, { deviceId: `${LIVE}-m${k}`, ts, voltage: volts(k, i) }));
        sent.push(publish(COLLECTOR, { deviceId: `${COLLECTOR}-m${k}`, ts: ts - BEHIND, voltage: volts(k, i) }));
      }
      if (i === 10) sent.push(publish(LIVE, { deviceId: `${LIVE}-fast`, ts: ts + 50 * MINUTE, voltage: 121 }));
      if (i >= 12 && i < 17) sent.push(publish(LIVE, { deviceId: `${LIVE}-ahead`, ts: ts + 5 * MINUTE + 500, voltage: volts(9, i) }));
      await Promise.all(sent);
    }

    // Every window of both lines fires, complete: 3 meters x 5 readings.
    const windowsOf = (lineId: string, from: number) =>
      waitFor(
        async () => {
          const { windows } = await p.get<{ windows: WindowDto[] }>(`/lines/${lineId}/aggregates?from=${iso(from)}&to=${iso(from + SECONDS * 1_000)}`);
          if (windows.length < SECONDS / 5) throw new Error(`${windows.length} of ${SECONDS / 5} windows of ${lineId} fired`);
          return windows;
        },
        { what: `every window of ${lineId}`, timeoutMs: 120_000, intervalMs: 500 },
      );
    for (const [lineId, from] of [
      [LIVE, S],
      [COLLECTOR, S - BEHIND],
    ] as const) {
      const windows = await windowsOf(lineId, from);
      expect(windows.map((w) => [Date.parse(w.windowStart) - from, w.count, w.meters])).toEqual(
        Array.from({ length: SECONDS / 5 }, (_, j) => [j * 5_000, METERS * 5, METERS]),
      );
    }

    // Nothing late, on either line: no late-readings record, no late counter.
    expect(envelopesInLog(temp.dir, STREAMS.lateReadings)).toEqual([]);
    const { lines } = await p.get<{ lines: LineDto[] }>('/lines');
    const line = (lineId: string) => lines.find((l) => l.lineId === lineId)!;
    expect([line(LIVE).lateReadings, line(COLLECTOR).lateReadings]).toEqual([0, 0]);

    // The fast reading: one dead letter with the reason, and not among the line's readings.
    const { deadLetters } = await p.get<{ deadLetters: DeadLetterDto[] }>('/dead-letters?limit=100');
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ lineId: LIVE, deviceId: `${LIVE}-fast` });
    expect(deadLetters[0].reason).toContain('clock ahead of its line');
    const { readings } = await p.get<{ readings: { deviceId: string }[] }>(`/lines/${LIVE}/readings?from=${iso(S)}&to=${iso(S + 60 * MINUTE)}&limit=10000`);
    expect(readings.some((r) => r.deviceId === `${LIVE}-fast`)).toBe(false);
    expect(readings.filter((r) => r.deviceId === `${LIVE}-ahead`)).toHaveLength(5); // ahead, but inside the limit: kept

    // The meter that keeps arriving ahead is flagged; no other meter is.
    const { alerts } = await p.get<{ alerts: AlertDto[] }>('/alerts');
    expect(alerts.filter((a) => a.kind === 'meter-clock').map((a) => [a.lineId, a.deviceId, a.state])).toEqual([[LIVE, `${LIVE}-ahead`, 'raised']]);

    // Delivery delay per line, in the API and the metrics: the collector's 3 minutes, the live
    // line's next to nothing (the fast meters' readings show their clocks' error and do not count).
    const collectorDelay = line(COLLECTOR).deliveryDelay!;
    expect(collectorDelay.ewmaMs).toBeGreaterThanOrEqual(BEHIND);
    expect(collectorDelay.ewmaMs).toBeLessThan(BEHIND + 30_000);
    expect(collectorDelay.maxMs).toBeGreaterThanOrEqual(collectorDelay.ewmaMs);
    expect(line(LIVE).deliveryDelay!.ewmaMs).toBeGreaterThanOrEqual(0);
    expect(line(LIVE).deliveryDelay!.ewmaMs).toBeLessThan(30_000);
    const metrics = await (await fetch(`${p.apiUrl}/metrics`)).text();
    const gauge = (lineId: string) => Number(new RegExp(`^meterstream_delivery_delay_seconds\\{line="${lineId}"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(gauge(COLLECTOR)).toBeCloseTo(collectorDelay.ewmaMs / 1000, 3);
    expect(gauge(LIVE)).toBeLessThan(30);
  }, 300_000);

  it('windows a head-end that uploads 15-minute bulks an hour late completely with the documented LINE_TIMING; a line without it has late readings', async () => {
    const { pipeline: p } = await start({ LINE_TIMING: HEAD_END_TIMING });
    const HEAD_END = 'HE1-F01'; // matched by HE1-*
    const CONTROL = 'HE2-F01'; // the same uploads, global timing
    const METERS = 4;
    const BULKS = 6;
    // Bulk b holds event time [B + 15b, B + 15b + 15) min; the last one ends an hour ago.
    const B = Math.floor(Date.now() / MINUTE) * MINUTE - (15 * BULKS + 60) * MINUTE;

    // Each bulk as the head-end uploads it: one message per line, meter after meter, each meter's
    // readings every 15 s. (Bulks follow each other here within a second instead of 15 minutes
    // apart: the idle timeout of the setting, 20 minutes, is what keeps the real gap harmless.)
    for (let b = 0; b < BULKS; b++) {
      for (const lineId of [HEAD_END, CONTROL]) {
        const bulk = [];
        for (let k = 0; k < METERS; k++) {
          for (let i = 0; i < 60; i++) bulk.push({ deviceId: `${lineId}-m${k}`, ts: B + (15 * b) * MINUTE + i * 15_000 + k * 1_000, voltage: volts(k, i) });
        }
        await publish(lineId, bulk);
      }
      await sleep(200);
    }

    // Every minute of the first four bulks (one hour) fires complete: 4 meters x 4 readings.
    // (A bulk's windows close as the next bulks come: the last minutes wait for more uploads.)
    const windows = await waitFor(
      async () => {
        const { windows: w } = await p.get<{ windows: WindowDto[] }>(`/lines/${HEAD_END}/aggregates?from=${iso(B)}&to=${iso(B + 60 * MINUTE)}`);
        if (w.length < 60) throw new Error(`${w.length} of 60 windows of ${HEAD_END} fired`);
        return w;
      },
      { what: `an hour of ${HEAD_END}'s windows`, timeoutMs: 120_000, intervalMs: 500 },
    );
    expect(windows.map((w) => [(Date.parse(w.windowStart) - B) / MINUTE, w.count, w.meters])).toEqual(Array.from({ length: 60 }, (_, m) => [m, METERS * 4, METERS]));

    // The control line, uploaded the same way without the setting, has late readings (its
    // watermark, 10 s behind the bulk's newest readings, passes the meters still to come).
    const lines = await waitFor(
      async () => {
        const { lines: l } = await p.get<{ lines: LineDto[] }>('/lines');
        const control = l.find((x) => x.lineId === CONTROL);
        return control && control.lateReadings > 0 ? l : undefined;
      },
      { what: `late readings on ${CONTROL}`, timeoutMs: 60_000, intervalMs: 500 },
    );
    const headEnd = lines.find((l) => l.lineId === HEAD_END)!;
    expect(headEnd.lateReadings).toBe(0);
    expect(lateOf(HEAD_END)).toEqual([]);
    expect(lateOf(CONTROL).length).toBe(lines.find((l) => l.lineId === CONTROL)!.lateReadings);
    // Nothing of the head-end refused as a fast clock, and its meters leading each other by up
    // to a bulk is not taken for one (the control line's meters are: its timing allows 10 s).
    const { deadLetters } = await p.get<{ deadLetters: DeadLetterDto[] }>('/dead-letters?limit=100');
    expect(deadLetters.filter((d) => d.lineId === HEAD_END)).toEqual([]);
    const { alerts } = await p.get<{ alerts: AlertDto[] }>('/alerts');
    expect(alerts.filter((a) => a.kind === 'meter-clock' && a.lineId === HEAD_END)).toEqual([]);
    // Its delivery delay says how late the uploads come: over an hour.
    expect(headEnd.deliveryDelay!.ewmaMs).toBeGreaterThan(60 * MINUTE);
  }, 300_000);
});
