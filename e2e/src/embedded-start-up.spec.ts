import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildOnce, forEachOutputLine, freePort, killProcessesWithEnv, makeTempDir, waitFor } from '@meterstream/test-harness';
import { ROOT } from '@meterstream/test-harness';

/**
 * The embedded default must not load the engines' clients: kafkajs, the AWS SDK (and its @smithy
 * runtime) and the Elasticsearch client are required only inside the branches of createStreamLog,
 * createReadModel, createAlertChannels and createTimeSeriesSink that use them. An eager import
 * anywhere on a service's start-up path (a barrel re-exporting an adapter, say) breaks that, so
 * each service is started for real from dist/ on the default configuration, with a preload that
 * lists the packages in require.cache when sent SIGUSR2.
 */
const HEAVY = ['kafkajs', '@aws-sdk/', '@smithy/', '@elastic/'];
const PROBE_MARK = `startup-probe-${process.pid}-${Date.now()}`;

const HOOK = `
process.on('SIGUSR2', () => {
  const packages = new Set();
  for (const file of Object.keys(require.cache)) {
    const at = file.lastIndexOf('/node_modules/');
    if (at < 0) continue;
    const parts = file.slice(at + '/node_modules/'.length).split('/');
    packages.add(parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]);
  }
  process.stdout.write('loaded-packages ' + JSON.stringify([...packages].sort()) + '\\n');
});
`;

interface Probe {
  name: string;
  args: string[];
  /** A line the service prints once its start-up is done. */
  ready: RegExp;
}

const PROBES: Probe[] = [
  { name: 'query API', args: ['dist/apps/query-api/src/main.js'], ready: /query API listening/ },
  { name: 'stream processor', args: ['dist/apps/stream-processor/src/main.js'], ready: /processing readings and dead-letters/ },
  { name: 'ingest bridge', args: ['dist/apps/ingest-bridge/src/main.js'], ready: /appending to the embedded log/ },
  // `npm start`: the embedded broker ingesting in the launcher itself.
  { name: 'launcher (npm start)', args: ['dist/apps/cli/src/main.js', 'start', '--no-simulator'], ready: /embedded MQTT broker \(aedes\) listening/ },
];

describe('embedded default start-up', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let hook: string;

  beforeAll(() => {
    buildOnce();
    temp = makeTempDir('meterstream-startup-');
    hook = path.join(temp.dir, 'list-loaded-packages.js');
    fs.writeFileSync(hook, HOOK);
  });
  afterAll(() => {
    killProcessesWithEnv('MS_STARTUP_PROBE', PROBE_MARK);
    temp.cleanup();
  });

  it.each(PROBES)('$name loads none of kafkajs, the AWS SDK or the Elasticsearch client', async ({ args, ready }) => {
    const dataDir = fs.mkdtempSync(path.join(temp.dir, 'data-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      MS_STARTUP_PROBE: PROBE_MARK,
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: String(await freePort()),
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: String(await freePort()),
    };
    // The defaults, whatever the environment running the tests says.
    for (const key of ['STREAM_BACKEND', 'READ_MODEL_BACKEND', 'TIMESERIES_BACKEND', 'ALERT_CHANNELS', 'MQTT_URL']) delete env[key];
    // The bridge connects to a broker; nothing needs to answer for its start-up to finish.
    if (args[0].includes('ingest-bridge')) env.MQTT_URL = `mqtt://127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, ['-r', hook, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    let loaded: string[] | undefined;
    forEachOutputLine(child, (line) => {
      output.push(line);
      const listed = /^loaded-packages (.*)$/.exec(line);
      if (listed) loaded = JSON.parse(listed[1]) as string[];
    });
    try {
      await waitFor(() => output.some((l) => ready.test(l)) || child.exitCode !== null, { what: `${args[0]} to start`, timeoutMs: 30_000 });
      if (child.exitCode !== null) throw new Error(`${args[0]} exited (${child.exitCode}):\n${output.join('\n')}`);
      child.kill('SIGUSR2');
      await waitFor(() => loaded !== undefined, { what: 'the loaded packages', timeoutMs: 10_000 });
    } finally {
      await stop(child);
    }
    // The probe sees real packages: the embedded default's own engine is among them.
    expect(loaded).toContain('better-sqlite3');
    expect(loaded!.filter((p) => HEAVY.some((h) => p === h || p.startsWith(h)))).toEqual([]);
  }, 120_000);
});

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
