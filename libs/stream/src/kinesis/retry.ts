import { ConfiguredRetryStrategy } from '@smithy/util-retry';

/**
 * How the Kinesis adapter retries. Whole calls that fail with throttling, a 5xx or a dropped
 * connection are retried by the SDK client itself (kinesisRetryStrategy, on the client the adapter
 * builds); the adapter retries only what the SDK cannot see as a failure: records a successful
 * PutRecords answer lists as rejected (put-records.ts). Both follow this one policy.
 */
export interface KinesisRetryPolicy {
  /** Retries after the first attempt; a call gives up after maxRetries + 1 attempts. */
  maxRetries: number;
  /** Delay before the first retry; doubles per retry up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** `full` (default): a random delay in [0, delay], so throttled clients do not retry in lockstep. */
  jitter: 'full' | 'none';
}

export const DEFAULT_KINESIS_RETRY_POLICY: KinesisRetryPolicy = { maxRetries: 8, baseDelayMs: 100, maxDelayMs: 5000, jitter: 'full' };

/**
 * The SDK's standard retry strategy (which errors are retryable, a retry quota shared by the
 * client's calls) with the policy's attempts and backoff.
 */
export function kinesisRetryStrategy(policy: KinesisRetryPolicy): ConfiguredRetryStrategy {
  return new ConfiguredRetryStrategy(policy.maxRetries + 1, (retry) => {
    const delay = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
    return policy.jitter === 'full' ? Math.floor(Math.random() * delay) : delay;
  });
}
