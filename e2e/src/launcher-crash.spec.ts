import * as path from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { STREAMS, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { buildOnce, envelopesInLog, freePort, killProcessesWithEnv, makeTempDir, processesWithEnv, waitFor } from '@meterstream/test-harness';
import { Launcher } from './launcher';

const LINES = 10;
const READINGS = 12_000;

/** Readings of distinct meters within a few seconds of each other: a resend is a duplicate, never late. */
function reading(i: number, base: number): { topic: string; payload: string } {
  const lineId = `L${String(i % LINES).padStart(2, '0')}`;
  const deviceId = `crash-m${i}`;
  const ts = base + (i % 5) * 1000;
  return { topic: `line/${lineId}/SmartMeterData`, payload: JSON.stringify({ deviceId, ts, voltage: 118 + (i % 40) / 10 }) };
}

/**
 * Publishes readings 0..count-1 with QoS 1 until each is acknowledged: one connection at a time,
 * at most 500 unacknowledged on it, about 1,000 a second; when a connection drops, a new one publishes again every
 * reading not yet acknowledged. `acked` collects what the broker acknowledged.
 */
async function persistentPublisher(
  url: string,
  count: number,
  message: (i: number) => { topic: string; payload: string },
  acked: Set<number>,
  stop: { now: boolean },
): Promise<void> {
  while (!stop.now && acked.size < count) {
    const client = await mqtt.connectAsync(url, { clientId: 'crash-publisher', reconnectPeriod: 0, connectTimeout: 5_000 }).catch(() => undefined);
    if (!client) {
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    let open = true;
    client.on('close', () => (open = false));
    client.on('error', () => undefined);
    const pending = [...Array(count).keys()].filter((i) => !acked.has(i));
    let next = 0;
    let inFlight = 0;
    await new Promise<void>((resolve) => {
      // Paced (about 1,000 a second) so that the kills land mid-stream.
      const timer = setInterval(() => {
        if (!open || stop.now || (next >= pending.length && inFlight === 0)) {
          clearInterval(timer);
          return resolve();
        }
        for (let n = 0; n < 20 && inFlight < 500 && next < pending.length; n++) {
          const i = pending[next++];
          const m = message(i);
          inFlight++;
          client.publish(m.topic, m.payload, { qos: 1 }, (err) => {
            inFlight--;
            if (!err) acked.add(i);
          });
        }
      }, 20);
    });
    client.end(true);
  }
}

describe('npm start under SIGKILL of its whole process group', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let launcher: Launcher;

  beforeAll(async () => {
    buildOnce();
    temp = makeTempDir('meterstream-crash-');
    launcher = new Launcher(temp.dir, await freePort(), await freePort());
  });
  afterEach(async () => {
    // Each test leaves nothing running for the next, also when it failed midway.
    await launcher?.stop().catch(() => undefined);
    killProcessesWithEnv('DATA_DIR', temp.dir);
    await waitFor(() => processesWithEnv('DATA_DIR', temp.dir).length === 0, { what: 'the services of the test to stop', timeoutMs: 60_000 });
  });
  afterAll(async () => {
    await launcher?.stop().catch(() => undefined);
    // Whatever a failed test left behind must not keep jest (or CI) waiting.
    try {
      if (launcher?.child?.pid) process.kill(-launcher.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    killProcessesWithEnv('DATA_DIR', temp.dir);
    temp.cleanup();
  });

  it('stores every acknowledged reading across three kills while a persistent QoS 1 publisher resends what was not acknowledged; duplicates count once', async () => {
    await launcher.start();
    const base = Date.now() - 5 * 60_000;
    const acked = new Set<number>();
    const stop = { now: false };
    // The persistent publisher of a real meter or head-end: it keeps every reading until its PUBACK
    // and, on each new connection, publishes again whatever is not acknowledged (explicitly, not
    // mqtt.js's outgoing store, which resends one message per round trip).
    const publishing = persistentPublisher(`mqtt://127.0.0.1:${launcher.mqttPort}`, READINGS, (i) => reading(i, base), acked, stop);
    try {
      for (const threshold of [2_000, 5_000, 8_000]) {
        await waitFor(() => acked.size >= threshold, { what: `${threshold} acknowledged readings`, timeoutMs: 120_000 });
        expect(acked.size).toBeLessThan(READINGS); // the kill lands mid-stream
        await launcher.killGroup();
        await launcher.start();
      }
      await waitFor(() => acked.size === READINGS, { what: 'every reading acknowledged', timeoutMs: 300_000 }).catch((err: Error) => {
        throw new Error(`${err.message}; ${acked.size} of ${READINGS} acknowledged; the launcher said:\n${launcher.output.join('').slice(-3000)}`);
      });
    } finally {
      stop.now = true;
      await publishing;
    }

    // Every acknowledged reading is in the log; resends may be there twice.
    const stored = envelopesInLog<ReadingEnvelope>(temp.dir, STREAMS.readings);
    const storedIds = new Set(stored.map((e) => e.deviceId));
    const missing = [...acked].filter((i) => !storedIds.has(`crash-m${i}`));
    expect(missing).toEqual([]);
    expect(storedIds.size).toBe(READINGS);

    // The processor counts each reading once: the read model holds each id exactly once.
    const db = new Database(path.join(temp.dir, 'meterstream.db'), { readonly: true, fileMustExist: true });
    try {
      const counts = await waitFor(
        () => {
          const row = db.prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM rm_readings WHERE device_id LIKE 'crash-m%'").get() as { n: number; d: number };
          return row.d === READINGS ? row : undefined;
        },
        { what: 'every reading in the read model', timeoutMs: 120_000 },
      );
      expect(counts.n).toBe(READINGS);
    } finally {
      db.close();
    }
    await launcher.stop();
  }, 900_000);

  it('lets a poison message through as a dead letter and stores the valid readings behind it', async () => {
    await launcher.start();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${launcher.mqttPort}`, { clientId: 'poison-publisher', reconnectPeriod: 0 });
    const poison = '{"deviceId":"a","ts":1e308,"voltage":120}';
    await client.publishAsync('line/X/SmartMeterData', poison, { qos: 1 });
    const ts = Date.now() - 60_000;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.publishAsync('line/P01/SmartMeterData', JSON.stringify({ deviceId: `after-poison-${i}`, ts, voltage: 120 }), { qos: 1 })),
    );
    await client.endAsync();
    // Acknowledged means stored: no waiting needed before reading the log.
    const readings = envelopesInLog<ReadingEnvelope>(temp.dir, STREAMS.readings).filter((e) => e.deviceId?.startsWith('after-poison-'));
    expect(new Set(readings.map((e) => e.deviceId)).size).toBe(50);
    const letters = envelopesInLog<DeadLetterEnvelope>(temp.dir, STREAMS.deadLetters);
    const letter = letters.find((l) => Buffer.from(l.body.payload, 'base64').toString() === poison);
    expect(letter).toBeDefined();
    expect(letter!.body.reason).toMatch(/^ts: /);
    await launcher.stop();
  }, 300_000);
});
