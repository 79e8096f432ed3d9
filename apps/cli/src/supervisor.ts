import { spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import { isStartedMessage } from '@meterstream/observability';

export interface ServiceSpec {
  name: string;
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * A service: restarted with backoff when it crashes after it announced it started
   * (announceStarted); when it exits before that, it could not start, and onStartFailure is told
   * instead. False: a run-to-completion job, never restarted.
   */
  restart: boolean;
}

/** A service that exited before it announced it started: what it printed last says why. */
export interface StartFailure {
  name: string;
  exit: string;
  lastLines: string[];
}

/**
 * Runs each service as its own Node.js process (as on ECS: one container per service), prefixes
 * its output, restarts a crashed service with backoff, and stops services one at a time in the
 * order asked, so the bridge can flush and acknowledge before the broker goes away. A service
 * that cannot start (it exits before announcing it started) is not restarted: restarting cannot
 * fix a setting or a taken port, and the rest of the pipeline would run half-alive meanwhile.
 */
export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private readonly restarts = new Map<string, number[]>();
  private stopping = false;

  constructor(
    private readonly print: (line: string) => void,
    private readonly onStartFailure: (failure: StartFailure) => void = () => undefined,
  ) {}

  start(spec: ServiceSpec): void {
    const child = spawn(process.execPath, [spec.script, ...(spec.args ?? [])], {
      env: { ...process.env, ...spec.env },
      // Own process group: Ctrl-C reaches only the launcher, which then stops services in order.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.children.set(spec.name, child);
    const label = `[${spec.name}]`.padEnd(12);
    const lastLines: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      readline.createInterface({ input: stream }).on('line', (line) => {
        this.print(`${label} ${line}`);
        lastLines.push(line);
        if (lastLines.length > 5) lastLines.shift();
      });
    }
    let started = false;
    child.on('message', (message) => {
      if (isStartedMessage(message)) started = true;
    });
    // 'close', not 'exit': its output is all read by then, so a start failure can quote its last lines.
    child.on('close', (code, signal) => {
      if (this.children.get(spec.name) === child) this.children.delete(spec.name);
      if (this.stopping || !spec.restart) return;
      if (!started) {
        this.onStartFailure({ name: spec.name, exit: signal ?? `code ${code}`, lastLines: [...lastLines] });
        return;
      }
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
