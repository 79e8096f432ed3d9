import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SimulatorOptions } from '../options';

/** What makes two runs the same fleet: the same options give the same message sequence. */
export interface RunIdentity {
  seed: number;
  lines: number;
  metersPerLine: number;
  intervalMs: number;
  /** The profile name, or the fault specs themselves. */
  faults: SimulatorOptions['faults'];
}

/**
 * A run's state file: its identity and start, and how many of its messages the broker has
 * acknowledged in sequence. The message sequence is a pure function of the options and the
 * start (see generateMessages), so this is all it takes to continue the run exactly where it
 * stopped: regenerate the sequence and skip what was acknowledged.
 */
export interface RunState extends RunIdentity {
  v: 1;
  /** The run's simulated start, epoch ms. */
  start: number;
  /** Messages 0 … acknowledged − 1 were all acknowledged by the broker (QoS 1) or written (QoS 0). */
  acknowledged: number;
  /** Simulated time of the last of them (informational). */
  simTime: number;
}

export function runIdentity(options: RunIdentity): RunIdentity {
  return { seed: options.seed, lines: options.lines, metersPerLine: options.metersPerLine, intervalMs: options.intervalMs, faults: options.faults };
}

/**
 * The state of an earlier run of the same fleet in `path`, or undefined when there is none. A
 * state of another fleet is an error rather than a silent new start: its readings and labels are
 * in the same data directory, and mixing two fleets' would make both wrong.
 */
export function loadRunState(path: string, identity: RunIdentity): RunState | undefined {
  if (!existsSync(path)) return undefined;
  let state: RunState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as RunState;
  } catch (err) {
    throw new Error(`${path} is not a simulator state file (${(err as Error).message}); move it away to start a new run`);
  }
  if (state.v !== 1 || !Number.isSafeInteger(state.start) || !Number.isSafeInteger(state.acknowledged) || state.acknowledged < 0) {
    throw new Error(`${path} is not a simulator state file this version understands; move it away to start a new run`);
  }
  const differs = (Object.keys(identity) as Array<keyof RunIdentity>).filter((key) => JSON.stringify(state[key]) !== JSON.stringify(identity[key]));
  if (differs.length > 0) {
    const what = differs.map((key) => `${key} ${JSON.stringify(state[key])} (now ${JSON.stringify(identity[key])})`).join(', ');
    throw new Error(`${path} belongs to a simulated fleet with ${what}: run with the same options to continue it, or use another data directory for a new fleet`);
  }
  return state;
}

/** Writes the state atomically (a crash leaves the old or the new file, never half of one). */
export function saveRunState(path: string, state: RunState): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state)}\n`);
  renameSync(temp, path);
}

/**
 * The longest prefix of the sequence the broker has acknowledged: acknowledgements may come out
 * of order, a resume point may not skip a message that was never acknowledged.
 */
export class AcknowledgedPrefix {
  /** Sent, not yet acknowledged (or acknowledged after an earlier one that is not): seq → simulated time. */
  private readonly pending = new Map<number, number>();
  private readonly done = new Set<number>();
  private nextSeq: number;
  private low: number;
  private lowSimTime: number;

  constructor(first: number, simTime: number) {
    this.nextSeq = first;
    this.low = first;
    this.lowSimTime = simTime;
  }

  /** Messages before this one are all acknowledged. */
  get count(): number {
    return this.low;
  }

  /** Simulated time of the last message of the prefix. */
  get simTime(): number {
    return this.lowSimTime;
  }

  sent(seq: number, simTime: number): void {
    this.pending.set(seq, simTime);
    this.nextSeq = seq + 1;
  }

  acknowledged(seq: number): void {
    this.done.add(seq);
    while (this.low < this.nextSeq && this.done.has(this.low)) {
      this.done.delete(this.low);
      this.lowSimTime = this.pending.get(this.low) ?? this.lowSimTime;
      this.pending.delete(this.low);
      this.low++;
    }
  }
}
