import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mqtt from 'mqtt';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { startEmbeddedBroker, type EmbeddedBroker } from '@meterstream/mqtt';
import { buildOnce, forEachOutputLine, freePort, killProcessesWithEnv, makeTempDir, ROOT, waitFor } from '@meterstream/test-harness';

/**
 * Operations end to end: every service's /metrics, scraped and parsed as Prometheus text
 * exposition (parse-prometheus-text-format), moves under load; every service's /ready fails when
 * its database or its MQTT broker is gone while /health stays up; each alert raised or cleared is
 * logged once, as a JSON record, by the processor; and every metric the Grafana dashboard in
 * deploy/ queries is one the services expose.
 */

type Family = ReturnType<typeof parsePrometheusTextFormat>[number];

const MINUTE = 60_000;
const TOKEN = 'observability-test-token-0123456789';
const DASHBOARD = path.join(ROOT, 'deploy/grafana/meterstream-dashboard.json');

/**
 * A scrape parsed with parse-prometheus-text-format: each family by name (with its TYPE), and for
 * every histogram also its `_count`, `_sum` and `_bucket` series by those names. (The parser folds
 * a histogram's labelled series into one sample and drops their counts; with the histogram's
 * HELP and TYPE lines left out it reads each series as an untyped sample, labels and all.)
 */
async function scrape(base: string): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  if (res.status !== 200) throw new Error(`GET ${base}/metrics → ${res.status}`);
  expect(res.headers.get('content-type')).toContain('text/plain');
  const text = await res.text();
  const families = parsePrometheusTextFormat(text);
  const histograms = new Set(families.filter((f) => f.type === 'HISTOGRAM').map((f) => f.name));
  const series = parsePrometheusTextFormat(text.replace(/^# (HELP|TYPE) (\S+) .*\n/gm, (line, _kind: string, name: string) => (histograms.has(name) ? '' : line)));
  const byName = new Map<string, Family>(families.map((family) => [family.name, family]));
  // A histogram's series come one after another (buckets, sum, count of each label set), so each of its names recurs: gather them.
  for (const family of series) {
    if (!/_(count|sum|bucket)$/.test(family.name) || !histograms.has(family.name.replace(/_(count|sum|bucket)$/, ''))) continue;
    const seen = byName.get(family.name);
    byName.set(family.name, seen ? { ...seen, metrics: [...seen.metrics, ...family.metrics] } : family);
  }
  return byName;
}

/** The sum of a counter's or gauge's samples whose labels include `labels` (a histogram's: its observations); 0 when absent. */
function total(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name)?.type === 'HISTOGRAM' ? families.get(`${name}_count`) : families.get(name);
  if (!family) return 0;
  return family.metrics
    .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
    .reduce((n, m) => n + Number(m.value), 0);
}

async function ready(base: string): Promise<{ status: number; body: { status: string; error?: Record<string, { status: string; message?: string }> } }> {
  const res = await fetch(`${base}/ready`);
  return { status: res.status, body: (await res.json()) as never };
}

/** Metric names the dashboard's queries use (histogram series mapped back to their family). */
function dashboardMetrics(): Set<string> {
  const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  const names = new Set<string>();
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      for (const [name] of target.expr.matchAll(/\b(?:meterstream|process|nodejs)_[a-z0-9_]+/g)) names.add(name.replace(/_(bucket|count|sum)$/, ''));
    }
  }
  return names;
}

function reading(lineId: string, deviceId: string, time: number, voltage: number): string {
  return JSON.stringify({ deviceId, ts: new Date(time).toISOString(), voltage, current: 5, kw: 0.6 });
}

describe('metrics, health and readiness of every service', () => {
  beforeAll(() => buildOnce());

  it('npm start: the ingest, processor and API metrics move under load, alerts are logged once, and /ready fails when the database is gone', async () => {
    const temp = makeTempDir('meterstream-observability-');
    const [mqttPort, apiPort, ingestPort, processorPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const api = `http://127.0.0.1:${apiPort}`;
    const ingest = `http://127.0.0.1:${ingestPort}`;
    const processor = `http://127.0.0.1:${processorPort}`;
    const lines: string[] = [];
    let launcher: ChildProcess | undefined;
    try {
      launcher = spawn(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), 'start', '--no-simulator'], {
        cwd: ROOT,
        env: {
          ...process.env,
          DATA_DIR: temp.dir,
          HOST: '127.0.0.1',
          PORT: String(apiPort),
          MQTT_HOST: '127.0.0.1',
          MQTT_PORT: String(mqttPort),
          MQTT_URL: '',
          BRIDGE_METRICS_PORT: String(ingestPort),
          PROCESSOR_METRICS_PORT: String(processorPort),
          API_TOKEN: TOKEN,
          LOG_FORMAT: 'json',
          LOG_LEVEL: 'info',
        },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      forEachOutputLine(launcher, (line) => lines.push(line));
      const child = launcher;
      await waitFor(() => lines.some((l) => l.includes('meterstream is running')) || child.exitCode !== null, { what: 'the launcher to come up', timeoutMs: 120_000, intervalMs: 200 });
      expect(child.exitCode).toBeNull();

      // Before the load: every endpoint answers, in the exposition format, with process metrics and no token-less access.
      for (const base of [ingest, processor, api]) {
        expect((await fetch(`${base}/metrics`)).status).toBe(401);
        expect((await fetch(`${base}/health`)).status).toBe(200);
        const families = await scrape(base);
        expect(families.get('process_cpu_seconds_total')?.type).toBe('COUNTER');
        expect(families.has('nodejs_eventloop_lag_p99_seconds')).toBe(true);
        await waitFor(async () => (await ready(base)).status === 200, { what: `${base}/ready to answer 200`, timeoutMs: 60_000, intervalMs: 250 });
      }
      const before = { ingest: await scrape(ingest), processor: await scrape(processor), api: await scrape(api) };
      expect(total(before.ingest, 'meterstream_ingest_messages_received_total')).toBe(0);

      // The load: two lines of five meters, six minutes of readings every 15 s, ending 3 minutes
      // ago (so their windows fire); line L2 sags below 114 V for one minute (one alert, raised
      // then cleared); two malformed messages.
      const start = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE;
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: `obs-meters-${process.pid}`, reconnectPeriod: 0 });
      let readings = 0;
      try {
        for (let t = start; t < start + 6 * MINUTE; t += 15_000) {
          for (const lineId of ['L1', 'L2']) {
            for (let m = 0; m < 5; m++) {
              const sag = lineId === 'L2' && t >= start + 2 * MINUTE && t < start + 3 * MINUTE;
              await client.publishAsync(`line/${lineId}/SmartMeterData`, reading(lineId, `${lineId}-m${m}`, t, sag ? 110 : 120 + m * 0.2), { qos: 1 });
              readings++;
            }
          }
        }
        for (const lineId of ['L1', 'L2']) {
          for (let m = 0; m < 5; m++) {
            await client.publishAsync(`line/${lineId}/SmartMeterData`, reading(lineId, `${lineId}-m${m}`, start + 7 * MINUTE, 120), { qos: 1 });
            readings++;
          }
        }
        await client.publishAsync('line/L1/SmartMeterData', '{"deviceId":"bad","voltage":"high"}', { qos: 1 });
        await client.publishAsync('line/L1/SmartMeterData', 'not json', { qos: 1 });
      } finally {
        await client.endAsync();
      }
      const messages = readings + 2;

      // The ingest counted and acknowledged every message, and dead-lettered the two.
      const ingested = await scrape(ingest);
      expect(total(ingested, 'meterstream_ingest_messages_received_total')).toBeGreaterThanOrEqual(messages);
      expect(total(ingested, 'meterstream_ingest_messages_acknowledged_total')).toBeGreaterThanOrEqual(messages);
      expect(total(ingested, 'meterstream_ingest_readings_total')).toBe(readings);
      expect(total(ingested, 'meterstream_ingest_dead_letters_total')).toBe(2);
      expect(total(ingested, 'meterstream_ingest_batch_commit_seconds')).toBeGreaterThan(0);
      expect(ingested.get('meterstream_ingest_messages_received_total')?.type).toBe('COUNTER');
      expect(ingested.get('meterstream_ingest_in_flight')?.type).toBe('GAUGE');

      // The processor read them all (per partition), fired windows, raised and cleared the alert, and caught up (lag 0).
      const processed = await waitFor(
        async () => {
          const families = await scrape(processor);
          const caughtUp =
            total(families, 'meterstream_processor_records_total', { stream: 'readings' }) === readings &&
            total(families, 'meterstream_processor_records_total', { stream: 'dead-letters' }) >= 2 &&
            // Delivery runs beside processing: wait for the MQTT channel to have delivered too.
            total(families, 'meterstream_alert_deliveries_total', { channel: 'mqtt' }) >= 1 &&
            total(families, 'meterstream_processor_alert_events_total', { state: 'cleared' }) >= 1 &&
            (families.get('meterstream_processor_consumer_lag_records')?.metrics.length ?? 0) > 0 &&
            total(families, 'meterstream_processor_consumer_lag_records') === 0;
          return caughtUp ? families : undefined;
        },
        { what: 'the processor metrics to show every reading and dead letter processed, the alert cleared and no lag', timeoutMs: 120_000, intervalMs: 500 },
      );
      expect(total(processed, 'meterstream_processor_records_total', { stream: 'dead-letters' })).toBe(2);
      expect(processed.get('meterstream_processor_records_total')?.type).toBe('COUNTER');
      expect(total(processed, 'meterstream_processor_aggregates_total')).toBeGreaterThanOrEqual(2 * 6);
      expect(total(processed, 'meterstream_processor_window_firing_delay_seconds')).toBeGreaterThanOrEqual(2 * 6);
      expect(total(processed, 'meterstream_processor_publish_to_alert_seconds')).toBeGreaterThanOrEqual(1);
      expect(total(processed, 'meterstream_processor_alert_events_total', { state: 'raised', kind: 'voltage-low' })).toBe(1);
      expect(processed.get('meterstream_processor_watermark_delay_seconds')?.metrics.length).toBeGreaterThan(0);
      expect(total(processed, 'meterstream_alert_deliveries_total', { channel: 'mqtt' })).toBeGreaterThanOrEqual(1);
      expect(processed.get('meterstream_alert_oldest_undelivered_age_seconds')?.metrics.length).toBe(1);

      // The API timed its requests by route pattern and status, and its read-model totals are counters.
      expect((await fetch(`${api}/lines/L1/aggregates`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
      const served = await scrape(api);
      expect(served.get('meterstream_http_request_duration_seconds')?.type).toBe('HISTOGRAM');
      const routes = (served.get('meterstream_http_request_duration_seconds_count')?.metrics ?? []).map((m) => m.labels);
      expect(routes).toEqual(expect.arrayContaining([expect.objectContaining({ method: 'GET', route: '/lines/:lineId/aggregates', status: '200' }), expect.objectContaining({ route: '/metrics', status: '401' })]));
      expect(served.get('meterstream_dead_letters_total')).toMatchObject({ type: 'COUNTER' });
      expect(total(served, 'meterstream_dead_letters_total')).toBe(2);
      expect(served.get('meterstream_late_readings_total')?.type).toBe('COUNTER');

      // Every metric the Grafana dashboard queries is exposed by one of the services.
      const exposed = new Set([...ingested.keys(), ...processed.keys(), ...served.keys()]);
      expect([...dashboardMetrics()].filter((name) => !exposed.has(name))).toEqual([]);

      // Each alert raised or cleared is logged once by the processor, as a JSON record with its fields.
      const alertRecords = lines
        .filter((l) => l.startsWith('[processor]'))
        .map((l) => l.slice(l.indexOf('{')))
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as { time: string; level: string; service: string; alert?: { alertId: string; state: string; kind: string } }];
          } catch {
            return [];
          }
        })
        .filter((r) => r.alert !== undefined);
      const sag = alertRecords.filter((r) => r.alert!.kind === 'voltage-low');
      expect(sag.map((r) => r.alert!.state)).toEqual(['raised', 'cleared']);
      expect(new Set(sag.map((r) => r.alert!.alertId)).size).toBe(1);
      for (const r of sag) {
        expect(r).toMatchObject({ level: 'info', service: 'stream-processor' });
        expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      }

      // The database gone (the data directory removed): no service is ready, each says why; all stay alive.
      fs.rmSync(temp.dir, { recursive: true, force: true });
      for (const [base, check] of [
        [ingest, 'stream'],
        [processor, 'database'],
        [api, 'database'],
      ] as const) {
        const answer = await waitFor(async () => {
          const r = await ready(base);
          return r.status === 503 ? r : undefined;
        }, { what: `${base}/ready to fail`, timeoutMs: 30_000, intervalMs: 250 });
        expect(answer.body.status).toBe('error');
        expect(answer.body.error?.[check]).toMatchObject({ status: 'down', message: expect.stringContaining('is gone') });
        expect((await fetch(`${base}/health`)).status).toBe(200);
      }
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- launcher output (last 60 lines) ---\n${lines.slice(-60).join('\n')}`, { cause: err });
    } finally {
      if (launcher && launcher.exitCode === null) process.kill(-launcher.pid!, 'SIGKILL');
      killProcessesWithEnv('DATA_DIR', temp.dir);
      temp.cleanup();
    }
  }, 300_000);

  it('the bridge and the processor report the MQTT broker gone in /ready, and the bridge counts what it ingests', async () => {
    const temp = makeTempDir('meterstream-observability-broker-');
    const [bridgePort, processorPort] = await Promise.all([freePort(), freePort()]);
    const bridge = `http://127.0.0.1:${bridgePort}`;
    const processor = `http://127.0.0.1:${processorPort}`;
    // A real broker that only routes (no ingest): the bridge process subscribes to it.
    let broker: EmbeddedBroker | undefined = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
    const env = { ...process.env, DATA_DIR: temp.dir, MQTT_URL: broker.url, MQTT_CLIENT_ID: `obs-bridge-${process.pid}`, BRIDGE_METRICS_PORT: String(bridgePort), PROCESSOR_METRICS_PORT: String(processorPort), LOG_FORMAT: 'json' };
    const children: ChildProcess[] = [];
    const output: string[] = [];
    try {
      for (const script of ['dist/apps/ingest-bridge/src/main.js', 'dist/apps/stream-processor/src/main.js']) {
        const child = spawn(process.execPath, [path.join(ROOT, script)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        forEachOutputLine(child, (line) => output.push(`${path.basename(path.dirname(path.dirname(script)))}: ${line}`));
        children.push(child);
      }
      for (const base of [bridge, processor]) {
        await waitFor(async () => (await ready(base)).status === 200, { what: `${base}/ready to answer 200`, timeoutMs: 60_000, intervalMs: 250 });
      }

      const client = await mqtt.connectAsync(broker.url, { clientId: `obs-meter-${process.pid}`, reconnectPeriod: 0 });
      const now = Date.now();
      for (let i = 0; i < 20; i++) await client.publishAsync('line/L9/SmartMeterData', reading('L9', `m${i}`, now - MINUTE, 120), { qos: 1 });
      await client.endAsync();
      const counted = await waitFor(
        async () => {
          const families = await scrape(bridge);
          return total(families, 'meterstream_ingest_messages_acknowledged_total') >= 20 ? families : undefined;
        },
        { what: 'the bridge to acknowledge the 20 messages', timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(total(counted, 'meterstream_ingest_messages_received_total')).toBeGreaterThanOrEqual(20);
      expect(total(counted, 'meterstream_ingest_readings_total')).toBe(20);
      expect(total(counted, 'meterstream_ingest_batch_commit_seconds')).toBeGreaterThanOrEqual(1);

      // The broker stops: neither is ready (broker down), both stay alive.
      await broker.close();
      broker = undefined;
      for (const base of [bridge, processor]) {
        const answer = await waitFor(async () => {
          const r = await ready(base);
          return r.status === 503 ? r : undefined;
        }, { what: `${base}/ready to fail`, timeoutMs: 60_000, intervalMs: 250 });
        expect(answer.body.error?.broker).toMatchObject({ status: 'down', message: expect.stringContaining('MQTT') });
        expect((await fetch(`${base}/health`)).status).toBe(200);
      }
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- service output (last 40 lines) ---\n${output.slice(-40).join('\n')}`, { cause: err });
    } finally {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      killProcessesWithEnv('DATA_DIR', temp.dir);
      await broker?.close();
      temp.cleanup();
    }
  }, 240_000);
});
