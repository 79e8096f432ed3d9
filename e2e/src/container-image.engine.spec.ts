/**
 * The container image: deploy/Dockerfile built with podman and run as the ingest bridge, the stream
 * processor and the query API (one image, three commands) against the local engines — Mosquitto at
 * the front, Kafka as the stream (STREAM_BACKEND=kafka), Elasticsearch as the read model. Readings
 * published to Mosquitto must come out of the API in the container, the image's HEALTHCHECK must
 * report that container healthy, and the image must run Node 22 as a non-root user without
 * compilers. The tests themselves run on the machine's Node 20: this suite is what proves the
 * services on the image's runtime.
 *
 * Engines: bash scripts/engines/up.sh mosquitto kafka elasticsearch podman. podman.sh installs podman and
 * builds the local Node 22 base image (root, once); beforeAll runs it too, so the suite fails
 * loudly, never skips, when podman cannot be set up. Containers use --network host; every name
 * (topics, indices, MQTT client, lines, containers) is unique per run, and afterAll removes the
 * containers and their volumes whatever happened.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { assertElasticsearchUp, dropPrefix, ELASTICSEARCH_URL, testClient, uniqueIndexPrefix } from '@meterstream/read-model/elasticsearch/testing';
import { assertKafkaReachable, testBrokers, uniqueTopicPrefix } from '@meterstream/stream/kafka/testing';
import { freePort, ROOT, waitFor } from '@meterstream/test-harness';
import { mosquitto, MOSQUITTO_URL } from './mosquitto';

const run = promisify(execFile);
const MINUTE = 60_000;
const NODE_MAJOR = process.env.CONTAINER_NODE_MAJOR ?? '22';
const IMAGE = process.env.CONTAINER_TEST_IMAGE ?? 'localhost/meterstream:engine-test';
/** What scripts/engines/podman.sh (make-base-images.sh) writes; every podman call needs it. */
const CONTAINERS_CONF = process.env.CONTAINERS_CONF ?? path.join(process.env.WORK ?? path.join(process.env.TMPDIR ?? '/tmp', 'meterstream-containers'), 'containers.conf');
const PODMAN_ENV = { ...process.env, CONTAINERS_CONF };

/** Podman without systemd says this on every container with a HEALTHCHECK; `podman healthcheck run` works all the same. */
const SYSTEMD_NOISE = /unable to get systemd connection/;

async function podman(args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run('podman', args, { env: PODMAN_ENV, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    const stderr = (e.stderr ?? '').split('\n').filter((l) => !SYSTEMD_NOISE.test(l)).join('\n');
    throw new Error(`podman ${args.slice(0, 3).join(' ')} … failed: ${e.message.split('\n')[0]}\n${stderr.slice(-4000)}\n${(e.stdout ?? '').slice(-4000)}`, { cause: error });
  }
}

/** `podman run` of the image with `args` as the command, without the image's entrypoint overridden. */
async function inImage(command: string[]): Promise<{ code: number; out: string }> {
  try {
    return { code: 0, out: (await podman(['run', '--rm', '--no-healthcheck', '--network', 'none', IMAGE, ...command])).trim() };
  } catch (error) {
    const code = ((error as Error & { cause?: { code?: number } }).cause?.code as number | undefined) ?? -1;
    return { code, out: (error as Error).message };
  }
}

type Role = 'bridge' | 'processor' | 'api';
const COMMANDS: Record<Role, string[]> = {
  bridge: ['node', 'dist/apps/ingest-bridge/src/main.js'],
  processor: ['node', 'dist/apps/stream-processor/src/main.js'],
  api: [], // the image's CMD: the query API
};

interface ReadingDto {
  deviceId: string;
  voltage: number;
  eventTime: string;
}
interface WindowDto {
  windowStart: string;
  count: number;
  meters: number;
}

describe('the container image (deploy/Dockerfile) on Node 22, run against Mosquitto, Kafka and Elasticsearch', () => {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const names: Record<Role, string> = { bridge: `ms-it-${runId}-bridge`, processor: `ms-it-${runId}-processor`, api: `ms-it-${runId}-api` };
  const started: Role[] = [];
  const token = randomBytes(24).toString('hex');
  const indexPrefix = uniqueIndexPrefix('image');
  const lines = [`IMG-${runId}-A`, `IMG-${runId}-B`];
  // A meter's id is unique fleet-wide (a reading's id is deviceId@eventTime), so per line here.
  const metersOf = (lineId: string) => [1, 2, 3].map((n) => `${lineId}-m${n}`);
  const METERS_PER_LINE = 3;
  // Four whole minutes of readings every 15 s, ending well in the past, then one reading per meter
  // two minutes later that moves every line's event time past those four windows.
  const start = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;
  let apiBase = '';
  /** The bridge's and processor's metrics and health ports (host networking). */
  let metricsPorts = { bridge: '', processor: '' };
  let imageSize = 0;

  const logsOf = async (role: Role): Promise<string> => {
    const out = await run('podman', ['logs', '--tail', '60', names[role]], { env: PODMAN_ENV, maxBuffer: 16 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string }) => e);
    return `${out.stdout ?? ''}${out.stderr ?? ''}`;
  };
  /** Throws with the container's log when it is no longer running. */
  const assertRunning = async (role: Role): Promise<void> => {
    const state = (await podman(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', names[role]])).trim();
    if (!state.startsWith('running')) throw new Error(`the ${role} container is ${state}:\n${await logsOf(role)}`);
  };
  const waitForLog = async (role: Role, pattern: RegExp, what: string): Promise<void> => {
    let seen = '';
    await waitFor(
      async () => {
        await assertRunning(role);
        seen = await logsOf(role);
        return pattern.test(seen);
      },
      { what: `${what} (${role} container log:\n${seen.slice(-3000)})`, timeoutMs: 180_000, intervalMs: 1_000 },
    );
  };
  const api = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${apiBase}${p}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    // Fail (never skip) when an engine is missing.
    await mosquitto();
    await assertKafkaReachable();
    const es = testClient();
    await assertElasticsearchUp(es);
    await es.close();
    // Podman and the Node base image (installs and builds them when missing: root, 2–4 min, once).
    try {
      await run('bash', [path.join(ROOT, 'scripts/engines/podman.sh')], { cwd: ROOT, env: process.env, timeout: 900_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`podman could not be set up for the container-image suite (scripts/engines/podman.sh): ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: error });
    }

    // The image, as CI or `cdk deploy` builds it (--format docker keeps the HEALTHCHECK).
    const buildStarted = Date.now();
    await podman(['build', '--format', 'docker', '--build-arg', `NODE_IMAGE=node:${NODE_MAJOR}-bookworm-slim`, '-f', 'deploy/Dockerfile', '-t', IMAGE, ROOT], 1_500_000);
    imageSize = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).trim());
    console.log(`container image ${IMAGE}: ${(imageSize / 1e6).toFixed(0)} MB (uncompressed, base image included), built in ${Math.round((Date.now() - buildStarted) / 1000)} s`);

    // The three services, one image: the backends and everything else from the environment.
    const port = await freePort();
    apiBase = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      STREAM_BACKEND: 'kafka',
      KAFKA_BROKERS: testBrokers().join(','),
      KAFKA_TOPIC_PREFIX: uniqueTopicPrefix('image'),
      STREAM_PARTITIONS: '4',
      READ_MODEL_BACKEND: 'elasticsearch',
      ELASTICSEARCH_URL,
      ELASTICSEARCH_INDEX_PREFIX: indexPrefix,
      // The processor's SQLite time series goes to the image's /data volume (written as uid 1000).
      TIMESERIES_BACKEND: 'sqlite',
      ALERT_CHANNELS: '',
      MQTT_URL: MOSQUITTO_URL,
      MQTT_CLIENT_ID: `image-bridge-${runId}`,
      // The API as the image ships it (HOST=0.0.0.0), so with a token.
      PORT: String(port),
      API_TOKEN: token,
      // Host networking: the bridge's and processor's metrics and health endpoints on free ports too.
      BRIDGE_METRICS_PORT: String(await freePort()),
      PROCESSOR_METRICS_PORT: String(await freePort()),
    };
    metricsPorts = { bridge: env.BRIDGE_METRICS_PORT, processor: env.PROCESSOR_METRICS_PORT };
    for (const role of ['processor', 'api', 'bridge'] as const) {
      const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
      await podman(['run', '-d', '--name', names[role], '--network', 'host', '--label', `meterstream-test=${runId}`, ...envArgs, IMAGE, ...COMMANDS[role]]);
      started.push(role);
    }
    await waitForLog('processor', /processing readings and dead-letters/, 'the processor to start processing');
    await waitForLog('api', /query API listening on /, 'the query API to listen');
    await waitForLog('bridge', /subscribed to/, 'the bridge to subscribe');
  }, 3_000_000);

  afterAll(async () => {
    // Whatever happened: the containers, their /data volumes and the indices go (CONTAINER_TEST_KEEP=1 keeps them to look at).
    if (process.env.CONTAINER_TEST_KEEP === '1') return;
    for (const role of started) await podman(['rm', '--force', '--volumes', names[role]]).catch((e: Error) => console.warn(e.message));
    const es = testClient();
    await dropPrefix(es, indexPrefix).catch(() => undefined);
    await es.close();
  }, 180_000);

  it('runs Node 22 as a non-root user, and holds no compilers', async () => {
    const node = await inImage(['node', '--version']);
    expect(node.out).toMatch(new RegExp(`^v${NODE_MAJOR}\\.`));
    const who = await inImage(['sh', '-c', 'echo "$(id -u) $(whoami)"']);
    expect(who.out).toBe('1000 node');
    const tools = await inImage(['sh', '-c', 'for t in python3 python g++ gcc cc make; do command -v "$t" || true; done']);
    expect(tools).toEqual({ code: 0, out: '' });
    // Production dependencies only: no dev dependency made it into node_modules.
    const dev = await inImage(['sh', '-c', 'ls -d node_modules/typescript node_modules/jest node_modules/@swc/core node_modules/aws-cdk-lib node_modules/nx 2>/dev/null; true']);
    expect(dev).toEqual({ code: 0, out: '' });
    expect(imageSize).toBeGreaterThan(0);
  });

  it('serves readings published to Mosquitto through the bridge, Kafka, the processor and Elasticsearch, in the API container', async () => {
    const client = await mqtt.connectAsync(MOSQUITTO_URL, { clientId: `image-meters-${runId}`, reconnectPeriod: 0 });
    let published = 0;
    try {
      for (let t = start; t < start + 4 * MINUTE; t += 15_000) {
        for (const lineId of lines) {
          for (const [i, deviceId] of metersOf(lineId).entries()) {
            const voltage = 119 + i + ((t / 15_000) % 4) * 0.25;
            await client.publishAsync(`line/${lineId}/SmartMeterData`, JSON.stringify({ deviceId, ts: new Date(t).toISOString(), voltage, current: 5 }), { qos: 1 });
            published++;
          }
        }
      }
      for (const lineId of lines) {
        for (const deviceId of metersOf(lineId)) {
          await client.publishAsync(`line/${lineId}/SmartMeterData`, JSON.stringify({ deviceId, ts: new Date(start + 6 * MINUTE).toISOString(), voltage: 120, current: 5 }), { qos: 1 });
        }
      }
    } finally {
      await client.endAsync();
    }

    const listed = await waitFor(
      async () => {
        await assertRunning('api');
        const { lines: all } = await api<{ lines: { lineId: string }[] }>('/lines');
        const ours = all.filter((l) => lines.includes(l.lineId)).map((l) => l.lineId);
        return ours.length === lines.length ? ours.sort() : undefined;
      },
      { what: 'both lines in GET /lines', timeoutMs: 180_000, intervalMs: 1_000 },
    );
    expect(listed).toEqual([...lines].sort());

    const range = `from=${new Date(start).toISOString()}&to=${new Date(start + 4 * MINUTE).toISOString()}`;
    for (const lineId of lines) {
      const windows = await waitFor(
        async () => {
          for (const role of ['bridge', 'processor', 'api'] as const) await assertRunning(role);
          const body = await api<{ windows: WindowDto[] }>(`/lines/${lineId}/aggregates?${range}`);
          return body.windows.length === 4 ? body.windows : undefined;
        },
        { what: `the four windows of ${lineId} in GET /lines/${lineId}/aggregates`, timeoutMs: 180_000, intervalMs: 1_000 },
      );
      expect(windows.map((w) => [w.windowStart, w.count, w.meters])).toEqual([0, 1, 2, 3].map((m) => [new Date(start + m * MINUTE).toISOString(), 4 * METERS_PER_LINE, METERS_PER_LINE]));
      const { readings } = await api<{ readings: ReadingDto[] }>(`/lines/${lineId}/readings?${range}&limit=1000`);
      expect(readings).toHaveLength(published / lines.length);
      expect(new Set(readings.map((r) => r.deviceId))).toEqual(new Set(metersOf(lineId)));
    }
  }, 600_000);

  it('its HEALTHCHECK reports the API container healthy (GET /health), and the bridge and processor containers healthy', async () => {
    const healthcheck = (await podman(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', IMAGE])).trim();
    expect(JSON.parse(healthcheck)).toEqual(expect.objectContaining({ Test: ['CMD', 'node', '/app/healthcheck.js'] }));
    // Podman runs the check on a systemd timer; without systemd, `podman healthcheck run` runs it
    // now and records the result in the container's state as the timer would.
    for (const role of ['api', 'bridge', 'processor'] as const) {
      await waitFor(
        async () => {
          await assertRunning(role);
          await podman(['healthcheck', 'run', names[role]]);
          return true;
        },
        { what: `podman healthcheck run ${names[role]} to pass`, timeoutMs: 120_000, intervalMs: 2_000 },
      );
      const health = JSON.parse((await podman(['inspect', '--format', '{{json .State.Health}}', names[role]])).trim()) as { Status: string; Log: { Output: string }[] };
      expect({ role, status: health.Status }).toEqual({ role, status: 'healthy' });
      // Each container's check asks its own service's /health: the API's port, or the bridge's and processor's metrics ports.
      const port = { api: new URL(apiBase).port, ...metricsPorts }[role];
      expect(health.Log.at(-1)?.Output).toContain(`GET http://127.0.0.1:${port}/health answered 200`);
    }
    // The same endpoint from outside, without the token (public for load balancers).
    const res = await fetch(`${apiBase}/health`);
    expect(res.status).toBe(200);
    expect((await fetch(`${apiBase}/lines`)).status).toBe(401);
  }, 300_000);

  it('stops on SIGTERM well within the stop timeout (tini as PID 1 passes it on; no SIGKILL)', async () => {
    // Bridge first (it acknowledges only what is durable), then the processor, as an orchestrator would.
    for (const role of ['bridge', 'processor', 'api'] as const) {
      const stopStarted = Date.now();
      await podman(['stop', '--time', '60', names[role]], 120_000);
      const seconds = (Date.now() - stopStarted) / 1000;
      const exitCode = Number((await podman(['inspect', '--format', '{{.State.ExitCode}}', names[role]])).trim());
      // 0: the API exits itself; 143 (128 + SIGTERM): the bridge and processor re-raise SIGTERM after a clean stop. 137 would be the SIGKILL.
      expect({ role, exitCode, inTime: seconds < 30 }).toEqual({ role, exitCode: role === 'api' ? 0 : 143, inTime: true });
    }
    expect(await logsOf('processor')).toMatch(/stopped at a checkpoint/);
  }, 300_000);
});
