import { systemClock, type Clock } from './clock';

export interface TokenBucketOptions {
  /** Sustained rate: tokens earned per minute. */
  ratePerMinute: number;
  /** Most tokens held at once: how many takes may go back to back after a quiet spell. */
  burst: number;
  clock?: Clock;
}

const MINUTE_MS = 60_000;

/**
 * A token bucket: `take()` waits until a token is available and spends it, so over any span of t
 * minutes at most `burst + ratePerMinute × t` takes succeed. Nothing is ever refused: callers over
 * the limit wait their turn, first come first served. It starts full.
 *
 * Why our own and not `bottleneck`: the dispatcher already delivers one alert at a time per
 * channel, so none of bottleneck's queueing, concurrency or clustering is needed; what is needed is
 * an injectable clock, so the schedule can be asserted exactly on virtual time (bottleneck reads
 * Date.now and refills its reservoir from a setInterval). Bottleneck has also had no release
 * since 2019.
 */
export class TokenBucket {
  readonly ratePerMinute: number;
  readonly burst: number;
  private readonly clock: Clock;
  // Credit is kept in units of "ms × rate": a millisecond earns `rate` units and a token costs
  // MINUTE_MS units. With an integer rate and clock the arithmetic stays exact, so a wait computed
  // here is never a hair too short (no float drift, no extra 1 ms naps).
  private credit: number;
  private lastRefill: number;
  private turn: Promise<void> = Promise.resolve();

  constructor(options: TokenBucketOptions) {
    if (!(Number.isFinite(options.ratePerMinute) && options.ratePerMinute > 0)) {
      throw new Error(`token bucket: ratePerMinute must be a positive number, got ${options.ratePerMinute}`);
    }
    if (!(Number.isInteger(options.burst) && options.burst >= 1)) {
      throw new Error(`token bucket: burst must be an integer >= 1, got ${options.burst}`);
    }
    this.ratePerMinute = options.ratePerMinute;
    this.burst = options.burst;
    this.clock = options.clock ?? systemClock;
    this.credit = this.capacity;
    this.lastRefill = this.clock.now();
  }

  private get capacity(): number {
    return this.burst * MINUTE_MS;
  }

  /** Tokens available right now (fractional while refilling). */
  tokens(): number {
    this.refill();
    return this.credit / MINUTE_MS;
  }

  /** Milliseconds until a token is available (0: now). */
  msUntilToken(): number {
    this.refill();
    return this.credit >= MINUTE_MS ? 0 : Math.ceil((MINUTE_MS - this.credit) / this.ratePerMinute);
  }

  /** Spends a token if one is available now; never waits. */
  tryTake(): boolean {
    this.refill();
    if (this.credit < MINUTE_MS) return false;
    this.credit -= MINUTE_MS;
    return true;
  }

  /** Waits (after earlier callers) until a token is available and spends it. Rejects if `signal` aborts. */
  take(signal?: AbortSignal): Promise<void> {
    const mine = this.turn.then(() => this.waitAndTake(signal));
    // The next caller waits for this one whatever its outcome: an aborted take gives up its turn.
    this.turn = mine.catch(() => undefined);
    return mine;
  }

  private async waitAndTake(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.tryTake()) return;
      await this.clock.sleep(this.msUntilToken(), signal);
    }
  }

  private refill(): void {
    const now = this.clock.now();
    // A clock that steps backwards (NTP) must not mint or destroy credit.
    if (now > this.lastRefill) this.credit = Math.min(this.capacity, this.credit + (now - this.lastRefill) * this.ratePerMinute);
    this.lastRefill = Math.max(this.lastRefill, now);
  }
}
