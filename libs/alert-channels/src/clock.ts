import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Time as the alert channels see it. Injected so that rate limits and retry budgets can be tested
 * on a virtual clock instead of by waiting (and asserting on) wall-clock time.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(Math.max(0, ms), undefined, { signal }),
};
