import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { processesWithEnv, ROOT, waitFor } from '@meterstream/test-harness';

/** The built launcher (`npm start …`) on its own ports and data directory, in its own process group. */
export class Launcher {
  child: ChildProcess | undefined;
  output: string[] = [];

  constructor(
    readonly dataDir: string,
    readonly mqttPort: number,
    readonly apiPort: number,
    /** Arguments after `start`. */
    readonly args: readonly string[] = ['--no-simulator'],
    readonly env: NodeJS.ProcessEnv = {},
  ) {}

  async start(): Promise<void> {
    this.output = [];
    const child = spawn(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), 'start', ...this.args], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: this.dataDir, MQTT_HOST: '127.0.0.1', MQTT_PORT: String(this.mqttPort), HOST: '127.0.0.1', PORT: String(this.apiPort), MQTT_URL: '', ...this.env },
      detached: true, // a process group of its own, as a terminal's `npm start` has
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const keep = (chunk: Buffer) => {
      this.output.push(chunk.toString());
      if (this.output.length > 400) this.output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    await waitFor(() => this.output.join('').includes('meterstream is running') || child.exitCode !== null, { what: 'the launcher to come up', timeoutMs: 90_000 });
    if (child.exitCode !== null) throw new Error(`launcher exited: ${this.output.join('')}`);
  }

  /** SIGKILL to the launcher's whole process group, then waits until every service it ran is gone. */
  async killGroup(): Promise<void> {
    const child = this.child!;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    // The services see their parent gone (IPC disconnect) and stop by themselves.
    await waitFor(() => processesWithEnv('DATA_DIR', this.dataDir).length === 0, { what: 'the services to stop after the launcher died', timeoutMs: 60_000 });
  }

  /** Ctrl-C: the launcher stops its services in order; SIGKILL to the group if that takes over a minute. Resolves with its exit code. */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
