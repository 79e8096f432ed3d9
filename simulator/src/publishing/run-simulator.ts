import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { scheduledFaults, toFaultLabel, type ScheduledFault } from '../faults/fault-schedule';
import { buildFleet } from '../fleet/fleet';
import { generateMessages } from '../generation/generate-messages';
import { resolveOptions, type SimulatorOptions } from '../options';
import { LabelsWriter } from './labels-writer';
import { Pacer } from './pacer';
import { AcknowledgedPrefix, loadRunState, runIdentity, saveRunState, type RunState } from './run-state';

export interface SimulatorProgress {
  /** Messages acknowledged by the broker (QoS 1) or written to the socket (QoS 0). */
  published: number;
  /** Simulated time of the latest message handed to the client. */
  simTime: number;
}

export interface RunSimulatorOptions extends SimulatorOptions {
  brokerUrl: string;
  qos: 0 | 1;
  /** Simulated ms per real ms; 0 = as fast as possible. */
  speed: number;
  /** When simulated time reaches the wall clock, continue at real time (1×) instead of running ahead. */
  catchUpToNow?: boolean;
  /** Optional cap, messages per second. */
  rate?: number;
  /** Ground-truth labels as JSON Lines (created or truncated; appended to when the run continues from stateFile). */
  labelsFile?: string;
  /**
   * Continue the run recorded in this file, if there is one (same fleet options; its start wins
   * over `start`), from the first message the broker had not acknowledged; and record the
   * progress there (every second and at the end) for the next run to continue.
   */
  stateFile?: string;
  /** Called once, before the first publish, when the run continues one from stateFile. */
  onResume?: (resumed: { acknowledged: number; simTime: number; start: number }) => void;
  signal?: AbortSignal;
  /** Called about once a second and once at the end. */
  onProgress?: (progress: SimulatorProgress) => void;
  username?: string;
  password?: string;
  /** PEM text for mqtts: the broker's CA; the client certificate and key for a broker that requires them. */
  tls?: { ca?: string; cert?: string; key?: string };
  clientId?: string;
  /** Publishes awaiting their acknowledgement at most (default 1000). */
  maxInFlight?: number;
}

export interface RunSimulatorResult {
  published: number;
  /** Simulated time reached: start + durationMs when the run completed, else the last message's time. */
  simEnd: number;
}

const DEFAULT_MAX_IN_FLIGHT = 1000;
/** Waits shorter than this are not worth a timer; the message goes now. */
const MIN_SLEEP_MS = 1;

/**
 * Publishes the generated messages to an MQTT broker, paced by `speed` (and optionally `rate`),
 * and writes the labels. Keeps up to maxInFlight publishes outstanding rather than awaiting each
 * one. Resolves only once everything published has been acknowledged (QoS 1) and the client has
 * disconnected cleanly; stops early, just as cleanly, when `signal` aborts.
 */
export async function runSimulator(options: RunSimulatorOptions): Promise<RunSimulatorResult> {
  const previous = options.stateFile ? loadRunState(options.stateFile, runIdentity(resolveOptions(options))) : undefined;
  const run = previous ? { ...options, start: previous.start } : options;
  const messages = generateMessages(run); // checks the options before anything connects
  const resolved = resolveOptions(run);
  const faultFeed = new FaultLabelFeed(scheduledFaults(resolved, buildFleet(resolved)));
  // Continuing: the sequence up to the resume point is regenerated and skipped (labels included), so the rest is exactly what one uninterrupted run would have sent.
  const resumeAt = previous?.acknowledged ?? 0;
  for (let skipped = 0; skipped < resumeAt; skipped++) {
    const step = messages.next();
    if (step.done) break;
    faultFeed.skip(step.value.simTime);
  }
  const simStart = previous ? previous.simTime : resolved.start;
  const prefix = new AcknowledgedPrefix(resumeAt, simStart);
  const state = (): RunState => ({ v: 1, ...runIdentity(resolved), start: resolved.start, acknowledged: prefix.count, simTime: prefix.simTime });
  let savedCount = -1;
  const saveState = (): void => {
    if (!options.stateFile || prefix.count === savedCount) return;
    saveRunState(options.stateFile, state());
    savedCount = prefix.count;
  };
  saveState();
  if (previous) options.onResume?.({ acknowledged: previous.acknowledged, simTime: previous.simTime, start: previous.start });
  const pacer = new Pacer({ simStart, speed: options.speed, catchUpToNow: options.catchUpToNow, rate: options.rate, realStart: Date.now() });
  const maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  if (!(Number.isInteger(maxInFlight) && maxInFlight >= 1)) throw new Error(`maxInFlight must be a positive integer, got ${maxInFlight}`);
  const { signal } = options;
  const publishOptions = { qos: options.qos }; // mqtt.js copies it; one object for all messages
  if (signal?.aborted) return { published: 0, simEnd: simStart };

  const labels = options.labelsFile ? await LabelsWriter.open(options.labelsFile, previous !== undefined) : undefined;
  let client: MqttClient | undefined;
  let published = 0;
  let inFlight = 0;
  let failure: Error | undefined;
  let simTime = simStart;
  let completed = false;
  let wake: (() => void) | undefined;
  const progress =
    options.onProgress || options.stateFile
      ? setInterval(() => {
          options.onProgress?.({ published, simTime });
          saveState();
        }, 1000)
      : undefined;
  progress?.unref();

  const resume = (): void => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  const fail = (error: Error): void => {
    failure ??= error;
    resume();
  };
  // Wake the publishing loop when half the window is free rather than on every ack: one wake-up
  // per few hundred messages instead of one per message.
  const lowWater = Math.floor(maxInFlight / 2);
  const acked = (seq: number, error?: Error): void => {
    inFlight--;
    if (error) fail(error);
    else {
      published++;
      prefix.acknowledged(seq);
    }
    if (inFlight <= lowWater) resume();
  };
  const waitForAcks = (): Promise<void> => new Promise<void>((resolve) => (wake = resolve));

  try {
    const clientOptions: IClientOptions = { clean: true, reconnectPeriod: 1000, connectTimeout: 10_000 };
    if (options.clientId) clientOptions.clientId = options.clientId;
    if (options.username !== undefined) clientOptions.username = options.username;
    if (options.password !== undefined) clientOptions.password = options.password;
    Object.assign(clientOptions, options.tls);
    // No retries while connecting: a wrong URL fails now instead of retrying forever.
    client = await connectAsync(options.brokerUrl, clientOptions, false);
    client.on('error', fail);

    for (const message of messages) {
      if (signal?.aborted || failure) break;
      const wait = pacer.sendAt(message.simTime) - Date.now();
      if (wait >= MIN_SLEEP_MS) {
        await sleep(wait, signal);
        if (signal?.aborted) break;
      }
      while (inFlight >= maxInFlight && !failure) await waitForAcks();
      if (failure) break;

      simTime = message.simTime;
      if (labels) {
        for (const label of faultFeed.startedBy(simTime)) labels.write(label);
        if (message.label) labels.write(message.label);
      }
      inFlight++;
      prefix.sent(message.seq, message.simTime);
      client.publish(message.topic, message.payload, publishOptions, (error) => acked(message.seq, error));
      pacer.sent(Date.now());
    }
    completed = !signal?.aborted && !failure;
    // Nothing resolves before every publish is acknowledged; a failure rejects instead.
    while (inFlight > 0 && !failure) await waitForAcks();
  } finally {
    if (progress) clearInterval(progress);
    // After a failure, do not wait for acknowledgements that may never come.
    if (client) await client.endAsync(inFlight > 0);
    if (labels) {
      // A completed run's faults all belong to it, even one starting after the last message.
      if (completed) for (const label of faultFeed.startedBefore(resolved.end)) labels.write(label);
      await labels.close();
    }
    saveState();
  }
  if (failure) throw failure;
  options.onProgress?.({ published, simTime });
  return { published, simEnd: completed && Number.isFinite(resolved.end) ? resolved.end : simTime };
}

/** Hands out fault labels as simulated time passes their start (an endless run has endless faults). */
class FaultLabelFeed {
  private upcoming: ScheduledFault | undefined;

  constructor(private readonly schedule: Iterator<ScheduledFault>) {
    this.upcoming = this.pull();
  }

  *startedBy(t: number): Generator<ReturnType<typeof toFaultLabel>> {
    while (this.upcoming && this.upcoming.start <= t) {
      yield toFaultLabel(this.upcoming);
      this.upcoming = this.pull();
    }
  }

  /** Drops the labels up to t: the run this one continues wrote them. */
  skip(t: number): void {
    while (this.upcoming && this.upcoming.start <= t) this.upcoming = this.pull();
  }

  *startedBefore(t: number): Generator<ReturnType<typeof toFaultLabel>> {
    while (this.upcoming && this.upcoming.start < t) {
      yield toFaultLabel(this.upcoming);
      this.upcoming = this.pull();
    }
  }

  private pull(): ScheduledFault | undefined {
    const step = this.schedule.next();
    return step.done ? undefined : step.value;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
