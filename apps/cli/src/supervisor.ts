import { spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';

export interface ServiceSpec {
  name: string;
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Restart when it exits on its own (not for a run-to-completion job). */
  restart: boolean;
}

/**
 * Runs each service as its own Node.js process (as on ECS: one container per service), prefixes
 * its output, restarts a crashed service with backoff, and stops services one at a time in the
 * order asked, so the bridge can flush and acknowledge before the broker goes away.
 */
export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly restarts = new Map<string, number[]>();
  private stopping = false;

  constructor(private readonly print: (line: string) => void) {}

  start(spec: ServiceSpec): void {
    const child = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
      env: { ...process.env, ...spec.env },
      // Own process group: Ctrl-C reaches only the launcher, which then stops services in order.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.children.set(spec.name, child);
    const label = `[${spec.name}]`.padEnd(12);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) readline.createInterface({ input: stream }).on('line', (line) => this.print(`${label} ${line}`));
    }
    child.on('exit', (code, signal) => {
      if (this.children.get(spec.name) === child) this.children.delete(spec.name);
      if (this.stopping || !spec.restart) return;
      const now = Date.now();
      const recent = (this.restarts.get(spec.name) ?? []).filter((t) => now - t < 60_000);
      recent.push(now);
      this.restarts.set(spec.name, recent);
      if (recent.length > 5) {
        this.print(`${label} exited (${signal ?? code}) ${recent.length} times in a minute; not restarting it`);
        return;
      }
      const delay = 500 * recent.length;
      this.print(`${label} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => !this.stopping && this.start(spec), delay);
    });
  }

  isRunning(name: string): boolean {
    return this.children.has(name);
  }

  /** Stops the named services one after the other (SIGTERM, then SIGKILL after the grace). */
  async stop(order: string[], graceMs = 15_000): Promise<void> {
    this.stopping = true;
    for (const name of order) {
      const child = this.children.get(name);
      if (!child || child.exitCode !== null) continue;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
  }
}
