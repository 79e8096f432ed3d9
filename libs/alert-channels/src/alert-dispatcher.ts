import type { StreamLog } from '@meterstream/stream';
import type { AlertChannel } from './alert-channel';
import { ChannelDeliveryLoop, DEFAULT_RETRY_POLICY, type AlertRetryPolicy, type ChannelCounters, type DispatcherLogger } from './channel-delivery-loop';
import { systemClock, type Clock } from './clock';

export interface AlertDispatcherOptions {
  /** The stream log holding the `alerts` stream; positions and dead letters are written there too. */
  log: StreamLog;
  /** Each channel gets its own loop and its own position (consumer group `alert-channel:<name>`). */
  channels: readonly AlertChannel[];
  /** Retry budget per alert; unset fields keep DEFAULT_RETRY_POLICY. */
  retry?: Partial<AlertRetryPolicy>;
  /** How often a caught-up channel looks for new alerts (wake() cuts the wait short). Default 1000 ms. */
  pollIntervalMs?: number;
  /** Records read per partition per sweep. Default 100. */
  readBatchSize?: number;
  /** For the retry budget's elapsed time and dead-letter timestamps. */
  clock?: Pick<Clock, 'now'>;
  /** Default: warnings to the console, nothing else. */
  logger?: DispatcherLogger;
  /**
   * Share the alerts partitions with the dispatchers of the other processor instances through each
   * channel's consumer group (the log's joinGroup), so each alert is delivered by one of them.
   * The processor turns it on for Kinesis, where several instances share the stream. Default off.
   */
  shareByGroup?: boolean;
}

export interface StopOptions {
  /**
   * Wait at most this long for the deliveries in flight; after that they are abandoned
   * uncommitted (and redelivered on the next start). Default: wait for them however long.
   */
  timeoutMs?: number;
}

const consoleWarnings: DispatcherLogger = { log: () => undefined, warn: (message) => console.warn(message) };

/**
 * Delivers the `alerts` stream to every configured channel. Each channel is a projection of the
 * stream with its own committed position and its own loop: a channel that is down only falls
 * behind, it never holds up another channel or the stream processor (which only appends).
 *
 * Delivery is at least once, in stream order per partition (per line): a channel's position is
 * committed only after an alert was delivered or dead-lettered, so after a crash the alert that
 * was in flight is delivered again, recognisable by its envelope id.
 */
export class AlertDispatcher {
  private readonly loops: ChannelDeliveryLoop[];

  constructor(options: AlertDispatcherOptions) {
    const names = options.channels.map((c) => c.name);
    const twice = names.find((name, i) => names.indexOf(name) !== i);
    if (twice !== undefined) throw new Error(`two alert channels are named "${twice}": each needs its own name (it keys the channel's position on the alerts stream)`);
    const retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    if (!(Number.isInteger(retry.maxAttempts) && retry.maxAttempts >= 1)) throw new Error(`retry.maxAttempts must be an integer >= 1, got ${retry.maxAttempts}`);
    const settings = {
      log: options.log,
      retry,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      readBatchSize: options.readBatchSize ?? 100,
      clock: options.clock ?? systemClock,
      logger: options.logger ?? consoleWarnings,
      shareByGroup: options.shareByGroup ?? false,
    };
    this.loops = options.channels.map((channel) => new ChannelDeliveryLoop(channel, settings));
  }

  get running(): boolean {
    return this.loops.some((loop) => loop.running);
  }

  /** Starts every channel's loop; each resumes from its committed position. */
  start(): void {
    if (this.running) throw new Error('the alert dispatcher is already running');
    for (const loop of this.loops) loop.start();
  }

  /** Stops every loop after the delivery each has in flight (see StopOptions). Idempotent. */
  async stop(options: StopOptions = {}): Promise<void> {
    await Promise.all(this.loops.map((loop) => loop.stop(options.timeoutMs)));
  }

  /** Call after appending alerts: idle channels look now instead of at their next poll. */
  wake(): void {
    for (const loop of this.loops) loop.wake();
  }

  /** Counters by channel name, for metrics and logs (a snapshot). */
  counters(): Record<string, ChannelCounters> {
    return Object.fromEntries(this.loops.map((loop) => [loop.channel.name, loop.counters()]));
  }
}
