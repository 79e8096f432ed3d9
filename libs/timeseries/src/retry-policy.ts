import { ConfiguredRetryStrategy } from '@smithy/util-retry';

/** How often and how patiently a call that failed with throttling, a 5xx or a dropped connection is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 8). */
  attempts: number;
  /** Delay before the first retry, ms (default 100); doubles each retry. */
  startingDelayMs: number;
  /** Upper bound of one delay, ms (default 10 000). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 8, startingDelayMs: 100, maxDelayMs: 10_000 };

/**
 * The SDK's standard retry strategy (it decides what is retryable, and its retry quota stops a
 * client from retrying into an outage) with the policy's attempts and an exponential backoff with
 * full jitter, so many writers throttled together do not retry in lockstep.
 */
export function sdkRetryStrategy(policy: RetryPolicy): ConfiguredRetryStrategy {
  return new ConfiguredRetryStrategy(policy.attempts, (retry) => Math.floor(Math.random() * Math.min(policy.maxDelayMs, policy.startingDelayMs * 2 ** (retry - 1))));
}
