import type { AlertEnvelope } from '@meterstream/contracts';
import type { AlertChannel } from './alert-channel';
import type { Clock } from './clock';
import { TokenBucket } from './token-bucket';

export interface RateLimitOptions {
  /** At most this many deliveries per minute, sustained (config ALERT_CHANNEL_RATE_PER_MINUTE). */
  ratePerMinute: number;
  /** Deliveries allowed back to back after a quiet spell; default: ten seconds' worth, at least 1. */
  burst?: number;
  clock?: Clock;
}

/** Ten seconds' worth of the rate: a short flurry goes out at once, a storm is paced. */
export function defaultBurst(ratePerMinute: number): number {
  return Math.max(1, Math.ceil(ratePerMinute / 6));
}

/**
 * Wraps a channel so that it delivers at most `ratePerMinute` alerts a minute (with a burst):
 * during an alert storm operators' phones and receivers are paced, and an alert over the limit
 * waits for a token, it is never dropped. Every attempt spends a token, retries included, since
 * each one reaches the receiver. The wait happens inside deliver(), so the dispatcher's ordering,
 * retries and positions are unaffected; close() abandons a pending wait.
 */
export class RateLimitedAlertChannel implements AlertChannel {
  readonly name: string;
  readonly bucket: TokenBucket;
  private readonly closing = new AbortController();

  constructor(
    readonly inner: AlertChannel,
    options: RateLimitOptions,
  ) {
    this.name = inner.name;
    this.bucket = new TokenBucket({ ratePerMinute: options.ratePerMinute, burst: options.burst ?? defaultBurst(options.ratePerMinute), clock: options.clock });
  }

  async deliver(alert: AlertEnvelope): Promise<void> {
    await this.bucket.take(this.closing.signal);
    await this.inner.deliver(alert);
  }

  async close(): Promise<void> {
    this.closing.abort(new Error(`alert channel ${this.name} is closed`));
    await this.inner.close();
  }
}
