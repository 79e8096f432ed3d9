import { decodeEnvelope, STREAMS, type AlertEnvelope } from '@meterstream/contracts';
import type { GroupMembership, StreamLog, StreamRecord } from '@meterstream/stream';
import { backOff } from 'exponential-backoff';
import { PermanentDeliveryError, type AlertChannel } from './alert-channel';
import { ALERT_DEAD_LETTERS_STREAM, alertDeadLetter } from './alert-dead-letters';
import type { Clock } from './clock';

/** How hard a channel tries one alert before dead-lettering it. */
export interface AlertRetryPolicy {
  /** Attempts in all, the first included (>= 1). */
  maxAttempts: number;
  /** No new attempt starts once this long has passed since the first one. */
  maxElapsedMs: number;
  /** Wait before the first retry; each later wait is `multiplier` times the one before... */
  initialDelayMs: number;
  multiplier: number;
  /** ...up to this. */
  maxDelayMs: number;
  /** Full jitter (a random wait between 0 and the computed one), so receivers coming back are not hit in lockstep. */
  jitter: boolean;
}

/**
 * 20 attempts with waits of up to 1 s, 2 s, 4 s … capped at 60 s: at most about 14 minutes (half that
 * on average, with jitter) before an alert is dead-lettered.
 */
export const DEFAULT_RETRY_POLICY: AlertRetryPolicy = {
  maxAttempts: 20,
  maxElapsedMs: 30 * 60_000,
  initialDelayMs: 1000,
  multiplier: 2,
  maxDelayMs: 60_000,
  jitter: true,
};

export interface ChannelCounters {
  /** Alerts the channel accepted. */
  delivered: number;
  /** Attempts after the first (each retry of each alert). */
  retried: number;
  /** Attempts that failed (each is retried or ends in a dead letter). */
  failed: number;
  /** Alerts given up on and appended to alert-dead-letters. */
  deadLettered: number;
  /** Failures of the log itself (read, commit, dead-letter append); the loop carries on. */
  errors: number;
  /** When the oldest alert not yet delivered to the channel was appended (epoch ms); null when caught up. */
  oldestUndeliveredAt: number | null;
}

export interface DispatcherLogger {
  log(message: string): void;
  warn(message: string): void;
}

export interface ChannelLoopSettings {
  log: StreamLog;
  retry: AlertRetryPolicy;
  pollIntervalMs: number;
  readBatchSize: number;
  clock: Pick<Clock, 'now'>;
  logger: DispatcherLogger;
  /**
   * Share the alerts stream's partitions with the other instances of this channel through the
   * log's consumer group (joinGroup; leases on Kinesis), so each alert is delivered by one
   * instance. Off: this loop delivers every partition (one dispatcher per deployment).
   */
  shareByGroup: boolean;
}

/** The consumer group that holds a channel's position on the alerts stream. */
export function alertChannelGroup(channelName: string): string {
  return `alert-channel:${channelName}`;
}

/** One start()…stop() of a loop. A new start gets a new Run, so leftovers of the old one stay inert. */
interface Run {
  stopping: boolean;
  /** stop() gave up waiting: whatever the loop is doing must not write anything any more. */
  abandoned: boolean;
  stopRequested: Promise<void>;
  requestStop(): void;
  done: Promise<void>;
}

type Delivery = { kind: 'delivered' } | { kind: 'failed'; attempts: number; error: unknown } | { kind: 'interrupted' };

/** Thrown into the backoff by an attempt that was due after stop(): ends the retries, delivers nothing. */
const INTERRUPTED = new Error('alert dispatcher stopping');

/**
 * Delivers the alerts stream to one channel: reads every partition from the channel's committed
 * position, delivers each event in order (one at a time), retries failures with exponential
 * backoff, dead-letters what the budget cannot deliver, and commits after each event is settled.
 * Shares no await with other channels' loops, so a channel outage only delays that channel.
 */
export class ChannelDeliveryLoop {
  readonly group: string;
  private readonly counts: ChannelCounters = { delivered: 0, retried: 0, failed: 0, deadLettered: 0, errors: 0, oldestUndeliveredAt: null };
  private current: Run | undefined;
  private wakeIdle: (() => void) | undefined;
  private wakePending = false;
  /** With shareByGroup: this instance's share of the alerts partitions while the loop runs. */
  private membership: GroupMembership | undefined;
  /** The record being settled, so a revocation waits for it. */
  private inFlight: { partition: string; done: Promise<unknown> } | undefined;

  constructor(
    readonly channel: AlertChannel,
    private readonly settings: ChannelLoopSettings,
  ) {
    this.group = alertChannelGroup(channel.name);
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  counters(): ChannelCounters {
    return { ...this.counts };
  }

  start(): void {
    if (this.current) throw new Error(`the delivery loop of alert channel ${this.channel.name} is already running`);
    let requestStop!: () => void;
    const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
    const run: Run = { stopping: false, abandoned: false, stopRequested, requestStop, done: Promise.resolve() };
    this.current = run;
    run.done = this.loop(run);
  }

  /**
   * Stops after the delivery attempt under way (a backoff wait is cut short). With `timeoutMs`,
   * gives up waiting for that attempt after so long: its outcome is then neither committed nor
   * dead-lettered, so the alert is delivered again after the next start (as after a crash).
   */
  async stop(timeoutMs?: number): Promise<void> {
    const run = this.current;
    if (!run) return;
    run.stopping = true;
    run.requestStop();
    this.wake();
    if (timeoutMs === undefined) {
      await run.done;
    } else {
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([run.done.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
      clearTimeout(timer);
      if (!finished) {
        run.abandoned = true;
        this.settings.logger.warn(`alert channel ${this.channel.name}: a delivery was still in flight after ${timeoutMs} ms; left uncommitted, it is redelivered on the next start`);
      }
    }
    if (this.current === run) this.current = undefined;
  }

  /** New alerts were appended: end an idle wait now rather than at the next poll. */
  wake(): void {
    if (this.wakeIdle) this.wakeIdle();
    else this.wakePending = true;
  }

  private async loop(run: Run): Promise<void> {
    const { log, pollIntervalMs } = this.settings;
    let positions: Map<string, string> | undefined;
    try {
      while (!run.stopping) {
        try {
          if (!positions) {
            positions = await log.committed(this.group, STREAMS.alerts);
            this.settings.logger.log(`alert channel ${this.channel.name}: delivering the ${STREAMS.alerts} stream from consumer group ${this.group}'s position`);
          }
          if (this.settings.shareByGroup && this.membership === undefined) this.membership = await this.joinGroup(positions);
          this.wakePending = false;
          const progressed = await this.pass(run, positions);
          if (!progressed) {
            this.counts.oldestUndeliveredAt = null;
            await this.idle(run, pollIntervalMs);
          }
        } catch (err) {
          if (run.abandoned) return;
          this.counts.errors++;
          this.settings.logger.warn(`alert channel ${this.channel.name}: ${describe(err)}; trying again in ${pollIntervalMs} ms`);
          await this.idle(run, pollIntervalMs);
        }
      }
    } finally {
      const membership = this.membership;
      this.membership = undefined;
      if (membership !== undefined && !run.abandoned) await membership.leave().catch((err: unknown) => this.settings.logger.warn(`alert channel ${this.channel.name}: leaving group ${this.group} failed: ${describe(err)}`));
    }
  }

  /**
   * Joins the channel's consumer group on the alerts stream. A partition assigned resumes from
   * the group's committed position (its previous owner may have moved it); a partition revoked
   * is given up once the alert being settled in it is (committed or not).
   */
  private joinGroup(positions: Map<string, string>): Promise<GroupMembership> {
    const { log } = this.settings;
    return log.joinGroup(this.group, STREAMS.alerts, {
      assigned: async (partitions) => {
        const committed = await log.committed(this.group, STREAMS.alerts);
        for (const partition of partitions) {
          const position = committed.get(partition);
          if (position === undefined) positions.delete(partition);
          else positions.set(partition, position);
        }
        this.settings.logger.log(`alert channel ${this.channel.name}: now delivering alerts partitions ${partitions.join(', ')}`);
        this.wake();
      },
      revoked: async (partitions) => {
        const inFlight = this.inFlight;
        if (inFlight !== undefined && partitions.includes(inFlight.partition)) await inFlight.done.catch(() => undefined);
      },
    });
  }

  /** One sweep over every partition this loop delivers. True when at least one event was settled. */
  private async pass(run: Run, positions: Map<string, string>): Promise<boolean> {
    const { log, readBatchSize } = this.settings;
    let progressed = false;
    const membership = this.membership;
    const partitions = membership === undefined ? await log.partitions(STREAMS.alerts) : membership.owned();
    for (const partition of partitions) {
      const records = await log.read(STREAMS.alerts, partition, positions.get(partition) ?? null, readBatchSize);
      for (const record of records) {
        if (run.stopping) return progressed;
        // Revoked meanwhile: its next owner delivers the rest.
        if (membership !== undefined && !membership.owned().includes(partition)) break;
        // Settled and committed as one step a revocation waits for: a shard handed over carries
        // the position of every alert delivered in it.
        // Delivered one at a time in stream order: the record in hand is the oldest waiting (of its partition).
        this.counts.oldestUndeliveredAt = Math.min(this.counts.oldestUndeliveredAt ?? Infinity, record.appendTime);
        const step = this.settleAndCommit(run, partition, record, positions);
        this.inFlight = { partition, done: step };
        let settled: boolean;
        try {
          settled = await step;
        } finally {
          this.inFlight = undefined;
        }
        if (!settled) return progressed;
        this.counts.oldestUndeliveredAt = null;
        progressed = true;
      }
    }
    return progressed;
  }

  private async settleAndCommit(run: Run, partition: string, record: StreamRecord, positions: Map<string, string>): Promise<boolean> {
    if (!(await this.settle(run, record))) return false;
    // Advanced in memory first: if the commit fails the loop goes on from here (no in-process
    // duplicate), and the next commit of this partition covers this event too.
    positions.set(partition, record.position);
    await this.settings.log.commit(this.group, STREAMS.alerts, new Map([[partition, record.position]]));
    return true;
  }

  /** Delivers or dead-letters one record. False when interrupted by stop (nothing to commit). */
  private async settle(run: Run, record: StreamRecord): Promise<boolean> {
    const alert = decodeAlert(record);
    if (typeof alert === 'string') return this.deadLetter(run, record, undefined, alert, 0);
    const delivery = await this.deliverWithRetry(run, alert);
    if (run.abandoned || delivery.kind === 'interrupted') return false;
    if (delivery.kind === 'delivered') {
      this.counts.delivered++;
      return true;
    }
    return this.deadLetter(run, record, alert, describe(delivery.error), delivery.attempts);
  }

  private async deliverWithRetry(run: Run, alert: AlertEnvelope): Promise<Delivery> {
    const { retry, clock, logger } = this.settings;
    const name = this.channel.name;
    const started = clock.now();
    let attempts = 0;
    let attemptUnderWay = false;

    const attempt = async (): Promise<void> => {
      if (run.stopping) throw INTERRUPTED;
      attempts++;
      if (attempts > 1) this.counts.retried++;
      attemptUnderWay = true;
      try {
        await this.channel.deliver(alert);
      } catch (err) {
        this.counts.failed++;
        throw err;
      } finally {
        attemptUnderWay = false;
      }
    };
    const shouldRetry = (err: unknown, failedAttempts: number): boolean => {
      if (err === INTERRUPTED || run.stopping) return false;
      const permanent = err instanceof PermanentDeliveryError;
      const again = !permanent && failedAttempts < retry.maxAttempts && clock.now() - started < retry.maxElapsedMs;
      logger.warn(`alert channel ${name}: delivery of ${alert.id} failed (attempt ${failedAttempts}${permanent ? ', permanent' : ''}): ${describe(err)}${again ? '; will retry' : ''}`);
      return again;
    };

    const outcome: Promise<Delivery> = backOff(attempt, {
      numOfAttempts: retry.maxAttempts,
      startingDelay: retry.initialDelayMs,
      timeMultiple: retry.multiplier,
      maxDelay: retry.maxDelayMs,
      jitter: retry.jitter ? 'full' : 'none',
      delayFirstAttempt: false,
      retry: shouldRetry,
    }).then(
      (): Delivery => ({ kind: 'delivered' }),
      (error: unknown): Delivery =>
        error === INTERRUPTED || (run.stopping && !(error instanceof PermanentDeliveryError)) ? { kind: 'interrupted' } : { kind: 'failed', attempts, error },
    );
    // On stop: an attempt under way is awaited (it may still succeed and be committed); a backoff
    // wait is not: its timer runs out on its own and the attempt it was waiting for never starts.
    const onStop = run.stopRequested.then((): Promise<Delivery> | Delivery => (attemptUnderWay ? outcome : { kind: 'interrupted' }));
    return Promise.race([outcome, onStop]);
  }

  private async deadLetter(run: Run, record: StreamRecord, alert: AlertEnvelope | undefined, reason: string, attempts: number): Promise<boolean> {
    const { log, clock, logger, pollIntervalMs } = this.settings;
    const letter = alertDeadLetter(this.channel.name, record, alert, reason, attempts, clock.now());
    // The alert was not delivered: it must not be committed until its dead letter is durable.
    for (;;) {
      try {
        await log.append(ALERT_DEAD_LETTERS_STREAM, [{ key: alert?.lineId ?? record.key, value: Buffer.from(JSON.stringify(letter)) }]);
        break;
      } catch (err) {
        if (run.stopping) return false;
        this.counts.errors++;
        logger.warn(`alert channel ${this.channel.name}: cannot append to ${ALERT_DEAD_LETTERS_STREAM}: ${describe(err)}; trying again in ${pollIntervalMs} ms`);
        await this.idle(run, pollIntervalMs);
      }
    }
    this.counts.deadLettered++;
    logger.warn(`alert channel ${this.channel.name}: ${letter.id} dead-lettered after ${attempts} attempt(s): ${reason}`);
    return true;
  }

  private idle(run: Run, ms: number): Promise<void> {
    if (run.stopping || this.wakePending) {
      this.wakePending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        if (this.wakeIdle === finish) this.wakeIdle = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wakeIdle = finish;
    });
  }
}

/** The record as an alert envelope, or why it is not one (a poison record is dead-lettered, never retried). */
function decodeAlert(record: StreamRecord): AlertEnvelope | string {
  let envelope: AlertEnvelope;
  try {
    envelope = decodeEnvelope<AlertEnvelope>(record.value);
  } catch (err) {
    return `not an alert envelope: ${describe(err)}`;
  }
  if (typeof envelope !== 'object' || envelope === null || envelope.type !== 'alert' || typeof envelope.id !== 'string' || typeof envelope.lineId !== 'string') {
    return 'not an alert envelope: expected {type: "alert", id, lineId, …}';
  }
  return envelope;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
