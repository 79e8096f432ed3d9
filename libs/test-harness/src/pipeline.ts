import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { waitFor } from './wait-for';

import { ROOT } from './recorded-input';
let built = false;

/** Compiles the workspace to dist/ once per test process (incremental, about a second). */
export function buildOnce(): void {
  if (built) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.js'), '--quiet'], { cwd: ROOT, stdio: 'inherit' });
  built = true;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** 'bridge', or another bridge's own name (`bridge-b`): several bridges can run side by side. */
type ServiceName = 'bridge' | `bridge-${string}` | 'processor' | 'api';
const SCRIPTS: Record<'bridge' | 'processor' | 'api', string> = {
  bridge: 'dist/apps/ingest-bridge/src/main.js',
  processor: 'dist/apps/stream-processor/src/main.js',
  api: 'dist/apps/query-api/src/main.js',
};

interface Service {
  child: ChildProcess;
  output: string[];
  /** What this service's environment adds to the pipeline's (another bridge's client id, certificates). */
  env: Record<string, string>;
}

const isBridge = (name: ServiceName) => name === 'bridge' || name.startsWith('bridge-');

/**
 * The three services as separate OS processes built from dist/, exactly as `npm start` runs them,
 * so tests can SIGKILL one and start it again. Output is kept for failure messages.
 */
export class PipelineProcesses {
  private readonly services = new Map<ServiceName, Service>();
  readonly apiUrl: string;

  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    port: number,
  ) {
    this.apiUrl = `http://127.0.0.1:${port}`;
  }

  /** `bridge: false` when the broker ingests itself (the embedded broker, as `npm start` runs it). */
  static async start(options: { mqttUrl: string; dataDir: string; bridge?: boolean; env?: Record<string, string> }): Promise<PipelineProcesses> {
    buildOnce();
    const port = await freePort();
    const pipeline = new PipelineProcesses(
      {
        ...process.env,
        DATA_DIR: options.dataDir,
        MQTT_URL: options.mqttUrl,
        HOST: '127.0.0.1',
        PORT: String(port),
        MQTT_CLIENT_ID: `bridge-${path.basename(options.dataDir)}`,
        ...options.env,
      },
      port,
    );
    pipeline.spawn('processor');
    pipeline.spawn('api');
    if (options.bridge ?? true) await pipeline.spawnBridge();
    await waitFor(async () => (await fetch(`${pipeline.apiUrl}/health`)).ok, { what: 'API /health', timeoutMs: 30_000 });
    return pipeline;
  }

  private spawn(name: ServiceName, env: Record<string, string> = {}): Service {
    const script = SCRIPTS[isBridge(name) ? 'bridge' : (name as 'processor' | 'api')];
    const child = spawn(process.execPath, [path.join(ROOT, script)], { cwd: ROOT, env: { ...this.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const service: Service = { child, output: [], env };
    const keep = (chunk: Buffer) => {
      service.output.push(chunk.toString());
      if (service.output.length > 500) service.output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.services.set(name, service);
    return service;
  }

  /** Starts a bridge (`env`: what its environment adds to the pipeline's) and waits until it has subscribed. */
  async spawnBridge(name: ServiceName = 'bridge', env: Record<string, string> = {}): Promise<void> {
    const service = this.spawn(name, env);
    await waitFor(() => service.output.join('').includes('subscribed to') || service.child.exitCode !== null, {
      what: `${name} to subscribe`,
      timeoutMs: 30_000,
    });
    if (service.child.exitCode !== null) throw new Error(`${name} exited: ${this.output(name)}`);
  }

  /** Starts a bridge that is expected to give up; resolves with its exit code and output once it has exited. */
  async runBridgeToExit(name: ServiceName, env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; output: string }> {
    this.spawn(name, env);
    return { code: await this.waitForExit(name, timeoutMs), output: this.output(name) };
  }

  /** Waits for a service to exit by itself and gives its exit code (null: killed by a signal); kills it when it does not. */
  async waitForExit(name: ServiceName, timeoutMs = 60_000): Promise<number | null> {
    const child = this.services.get(name)!.child;
    const exited = await waitFor(() => (child.exitCode !== null || child.signalCode !== null ? { code: child.exitCode } : undefined), {
      what: `${name} to exit`,
      timeoutMs,
    }).catch(async (err: Error) => {
      await this.kill(name);
      throw new Error(`${err.message}; it was still running, output:\n${this.output(name)}`);
    });
    return exited.code;
  }

  /** Kills a service without letting it clean up (SIGKILL) and waits for it to be gone. */
  async kill(name: ServiceName): Promise<void> {
    const service = this.services.get(name);
    if (!service || service.child.exitCode !== null || service.child.signalCode !== null) return;
    const exited = new Promise((resolve) => service.child.once('exit', resolve));
    service.child.kill('SIGKILL');
    await exited;
  }

  /** Starts a service again with the environment it had (a bridge: its client id, so it resumes its session). */
  async restart(name: ServiceName): Promise<void> {
    const env = this.services.get(name)?.env ?? {};
    if (isBridge(name)) await this.spawnBridge(name, env);
    else this.spawn(name, env);
  }

  output(name: ServiceName): string {
    return this.services.get(name)?.output.join('') ?? '';
  }

  async get<T = unknown>(urlPath: string): Promise<T> {
    const res = await fetch(`${this.apiUrl}${urlPath}`);
    if (!res.ok) throw new Error(`GET ${urlPath} → ${res.status}: ${await res.text()}`);
    return (await res.json()) as T;
  }

  /** Graceful stop (SIGTERM), bridges first so they acknowledge only what is durable. */
  async stop(): Promise<void> {
    const names = [...this.services.keys()];
    for (const name of [...names.filter(isBridge), 'processor', 'api'] as ServiceName[]) {
      const service = this.services.get(name);
      if (!service || service.child.exitCode !== null || service.child.signalCode !== null) continue;
      const exited = new Promise((resolve) => service.child.once('exit', resolve));
      service.child.kill('SIGTERM');
      const timer = setTimeout(() => service.child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  }
}
