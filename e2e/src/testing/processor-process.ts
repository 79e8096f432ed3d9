import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { forEachOutputLine, ROOT } from '@meterstream/test-harness';

/** The service itself; its backends come from the environment alone. */
const PROCESS_SCRIPT = 'dist/apps/stream-processor/src/main.js';

export interface ProcessorStatus {
  /** From its "owns readings partitions …" lines (Kafka partition numbers, Kinesis shard ids). */
  owned: string[];
  /** From its last line, "stopped at a checkpoint after N readings …"; null before. */
  stoppedAfterReadings: number | null;
}

const OWNS = /^owns (?:readings partitions ([\w, -]+?)|no readings partition)\s*$/;
const STOPPED = /^stopped at a checkpoint after (\d+) readings/;

/** The message of one of the service's log lines: JSON records (pino, the default off a terminal) carry it in `msg`. */
function messageOf(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const record = JSON.parse(line) as { msg?: unknown };
    return typeof record.msg === 'string' ? record.msg : line;
  } catch {
    return line;
  }
}

/** One stream-processor process (the built dist/); its log lines are parsed as they come, the last ones kept for failure messages. */
export class ProcessorProcess {
  readonly child: ChildProcess;
  status: ProcessorStatus = { owned: [], stoppedAfterReadings: null };
  readonly output: string[] = [];

  constructor(
    readonly name: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, [path.join(ROOT, PROCESS_SCRIPT)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    forEachOutputLine(this.child, (line) => this.parse(line));
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Throws (with its output) when the process died. */
  alive(): true {
    if (this.exited) throw new Error(`processor ${this.name} exited: ${this.recentOutput()}`);
    return true;
  }

  owns(count: number): boolean {
    this.alive();
    return this.status.owned.length === count;
  }

  recentOutput(): string {
    return this.output.join('\n');
  }

  /** Sends a signal and resolves once the process is gone. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    await exited;
  }

  private parse(line: string): void {
    this.output.push(line);
    if (this.output.length > 200) this.output.shift();
    const message = messageOf(line);
    const owns = OWNS.exec(message);
    if (owns) this.status = { ...this.status, owned: owns[1] === undefined ? [] : owns[1].split(', ') };
    const stopped = STOPPED.exec(message);
    if (stopped) this.status = { ...this.status, stoppedAfterReadings: Number(stopped[1]) };
  }
}
