import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildOnce, freePort, killProcessesWithEnv, makeTempDir, processesWithEnv, ROOT } from '@meterstream/test-harness';

/**
 * Issue 13: every setting is checked at start-up. A bad one stops `npm start` (or the service
 * started on its own, as on ECS) at once with one message that names the variable and what to
 * do, no stack trace, exit code 1, and nothing left running. (The API's port taken by another
 * process: e2e/src/launcher-start-failure.spec.ts.)
 */
describe('bad settings at start-up', () => {
  let temp: ReturnType<typeof makeTempDir>;

  beforeAll(() => buildOnce());
  beforeEach(() => {
    temp = makeTempDir('meterstream-settings-');
  });
  afterEach(() => {
    killProcessesWithEnv('DATA_DIR', temp.dir);
    temp.cleanup();
  });

  /** Runs a built entry point to its exit; the output, stdout and stderr together. */
  async function run(script: string, args: string[], env: NodeJS.ProcessEnv, options: { uid?: number } = {}): Promise<{ code: number | null; output: string }> {
    const child = spawn(process.execPath, [path.join(ROOT, script), ...args], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: temp.dir, HOST: '127.0.0.1', PORT: String(await freePort()), MQTT_PORT: String(await freePort()), MQTT_URL: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    return { code, output };
  }

  const expectOneClearMessage = (result: { code: number | null; output: string }, message: RegExp) => {
    expect(result.code).toBe(1);
    expect(result.output).toMatch(message);
    expect(result.output.match(new RegExp(message.source, 'g'))).toHaveLength(1);
    // A message, not a crash: no stack trace.
    expect(result.output).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    expect(processesWithEnv('DATA_DIR', temp.dir)).toEqual([]);
  };

  const LAUNCHER = 'dist/apps/cli/src/main.js';
  it.each<[string, NodeJS.ProcessEnv, RegExp]>([
    ['ALERT_CHANNELS=webhook without a URL', { ALERT_CHANNELS: 'webhook', ALERT_WEBHOOK_SECRET: 'x' }, /ALERT_WEBHOOK_URL: ALERT_CHANNELS includes webhook, so ALERT_WEBHOOK_URL must be set/],
    ['an unknown alert channel', { ALERT_CHANNELS: 'mqtt,pager' }, /ALERT_CHANNELS: unknown alert channel "pager": use a comma-separated list of mqtt, webhook, sns/],
    ['PORT=99999', { PORT: '99999' }, /PORT: must be a TCP port number, 0–65535/],
    ['HOST=0.0.0.0 without API_TOKEN', { HOST: '0.0.0.0' }, /API_TOKEN: a HOST beyond loopback serves the query API to the network, so API_TOKEN must be set/],
  ])('npm start with %s: one message naming it, exit 1, nothing started', async (_name, env, message) => {
    const result = await run(LAUNCHER, ['start', '--no-simulator'], env);
    expectOneClearMessage(result, message);
    expect(result.output).not.toContain('[processor]');
  }, 60_000);

  it('npm start reports every bad variable at once', async () => {
    const result = await run(LAUNCHER, ['start', '--no-simulator'], { PORT: '99999', ALERT_CHANNELS: 'pager' });
    expectOneClearMessage(result, /PORT: must be a TCP port number/);
    expect(result.output).toMatch(/ALERT_CHANNELS: unknown alert channel "pager"/);
  }, 60_000);

  it.each<[string, string, NodeJS.ProcessEnv, RegExp]>([
    ['the processor', 'dist/apps/stream-processor/src/main.js', { ALERT_CHANNELS: 'webhook', ALERT_WEBHOOK_SECRET: 'x' }, /ALERT_WEBHOOK_URL: ALERT_CHANNELS includes webhook/],
    ['the query API', 'dist/apps/query-api/src/main.js', { HOST: '0.0.0.0' }, /API_TOKEN: a HOST beyond loopback/],
    ['the query API', 'dist/apps/query-api/src/main.js', { PORT: '99999' }, /PORT: must be a TCP port number/],
  ])('%s started on its own checks its settings too', async (_name, script, env, message) => {
    expectOneClearMessage(await run(script, [], env), message);
  }, 60_000);

  it('a service names every bad variable of all its namespaces at once', async () => {
    const result = await run('dist/apps/stream-processor/src/main.js', [], { ALERT_CHANNELS: 'pager', WINDOW_SIZE_MS: 'a minute', STREAM_PARTITIONS: '0' });
    expectOneClearMessage(result, /ALERT_CHANNELS: unknown alert channel/);
    expect(result.output).toMatch(/WINDOW_SIZE_MS: /);
    expect(result.output).toMatch(/STREAM_PARTITIONS: /);
  }, 60_000);

  it.each([
    ['npm start', LAUNCHER, ['start', '--no-simulator']],
    ['the processor', 'dist/apps/stream-processor/src/main.js', []],
  ])('%s on a read-only DATA_DIR names the path and what to do', async (_name, script, args) => {
    const dataDir = path.join(temp.dir, 'read-only');
    fs.mkdirSync(dataDir);
    fs.chmodSync(temp.dir, 0o755);
    fs.chmodSync(dataDir, 0o555);
    // root writes anywhere: run as nobody then (the build is world-readable).
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    const result = await run(script, args, { DATA_DIR: dataDir }, { uid });
    const file = path.join(dataDir, 'meterstream.db');
    expectOneClearMessage(result, new RegExp(`cannot open the database ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(`));
    expect(result.output).toContain(`DATA_DIR must name a folder this user can create files in; ${dataDir} is not one`);
  }, 60_000);
});
