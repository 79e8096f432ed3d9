import { backOff } from 'exponential-backoff';

/**
 * One retry budget for every Kinesis call. The SDK client's own retries are switched off
 * (maxAttempts 1) so the budget is this one, not this one times the SDK's.
 */
export interface KinesisRetryPolicy {
  /** Retries after the first attempt; the call gives up after maxRetries + 1 attempts. */
  maxRetries: number;
  /** Delay before the first retry; doubles per retry up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** `full` (default): a random delay in [0, delay], so throttled clients do not retry in lockstep. */
  jitter: 'full' | 'none';
}

export const DEFAULT_KINESIS_RETRY_POLICY: KinesisRetryPolicy = { maxRetries: 8, baseDelayMs: 100, maxDelayMs: 5000, jitter: 'full' };

/** Throttling: the shard or account is over its rate; waiting is the cure. */
const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'ThrottlingException',
  'KMSThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);

/** Transient service or network trouble. */
const TRANSIENT = new Set([
  'InternalFailure',
  'InternalFailureException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED']);

export function isThrottling(error: unknown): boolean {
  return THROTTLING.has(errorName(error));
}

export function isRetryableKinesisError(error: unknown): boolean {
  if (isThrottling(error) || TRANSIENT.has(errorName(error))) return true;
  const e = error as { code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return true;
  // A network error from another realm (jest's sandbox) reaches us wrapped, with only its text left.
  if (/socket hang up|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|TimeoutError/.test(String((error as { message?: unknown }).message ?? ''))) return true;
  const status = e.$metadata?.httpStatusCode;
  return e.$retryable !== undefined || status === 429 || (status !== undefined && status >= 500);
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : String((error as { name?: unknown } | null)?.name ?? 'Error');
}

export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The retry budget ran out; `cause` is the last failure. */
export class RetriesExhaustedError extends Error {
  override readonly name = 'RetriesExhaustedError';

  constructor(
    what: string,
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(`${what} failed after ${attempts} attempts: ${describeError(cause)}`, { cause });
  }
}

/**
 * Runs `attempt` with exponential backoff while it fails with a retryable error. A non-retryable
 * error is rethrown as it is; when the budget runs out the error says what failed, how often and
 * the last cause (kept as `cause`).
 */
export async function withRetries<T>(
  what: string,
  policy: KinesisRetryPolicy,
  attempt: () => Promise<T>,
  shouldRetry: (error: unknown) => boolean = isRetryableKinesisError,
): Promise<T> {
  let failures = 0;
  let retryable = true;
  try {
    return await backOff(attempt, {
      numOfAttempts: policy.maxRetries + 1,
      startingDelay: policy.baseDelayMs,
      timeMultiple: 2,
      maxDelay: policy.maxDelayMs,
      jitter: policy.jitter,
      retry: (error) => {
        failures++;
        retryable = shouldRetry(error);
        return retryable;
      },
    });
  } catch (error) {
    if (!retryable) throw error;
    throw new RetriesExhaustedError(what, failures, error);
  }
}
