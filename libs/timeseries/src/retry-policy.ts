import { backOff } from 'exponential-backoff';

/** How often and how patiently a transient failure is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 8). */
  attempts: number;
  /** Delay before the first retry, ms (default 100); doubles each retry. */
  startingDelayMs: number;
  /** Upper bound of one delay, ms (default 10 000). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 8, startingDelayMs: 100, maxDelayMs: 10_000 };

const RETRYABLE_NAMES = new Set([
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'InternalServerException',
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);
const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH']);

/**
 * True for failures a later attempt may not see: throttling, 5xx, timeouts and dropped
 * connections. False for everything the request itself caused (validation, not found, access
 * denied, rejected records), which would fail the same way again.
 */
export function isRetryableAwsError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (e.name !== undefined && RETRYABLE_NAMES.has(e.name)) return true;
  if (e.code !== undefined && RETRYABLE_NETWORK_CODES.has(e.code)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  return status !== undefined && (status >= 500 || status === 429);
}

/**
 * Runs `request`, retrying retryable failures with exponential backoff and full jitter (so many
 * writers throttled together do not retry in lockstep). Rethrows the last error.
 */
export function withRetries<T>(
  request: () => Promise<T>,
  policy: RetryPolicy,
  onRetry: (err: unknown, failedAttempts: number) => void = () => undefined,
): Promise<T> {
  return backOff(request, {
    numOfAttempts: policy.attempts,
    startingDelay: policy.startingDelayMs,
    maxDelay: policy.maxDelayMs,
    timeMultiple: 2,
    jitter: 'full',
    // `failed` counts the attempts that failed so far; there is a next one while it is below `attempts`.
    retry: (err: unknown, failed: number) => {
      if (!isRetryableAwsError(err)) return false;
      if (failed < policy.attempts) onRetry(err, failed);
      return true;
    },
  });
}
