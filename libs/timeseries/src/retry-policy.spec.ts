import { InternalServerException, RejectedRecordsException, ResourceNotFoundException, ThrottlingException, ValidationException } from '@aws-sdk/client-timestream-write';
import { isRetryableAwsError, withRetries } from './retry-policy';

/** What an SDK exception constructor takes: both message spellings and response metadata. */
const opts = (message: string) => ({ message, Message: message, $metadata: {} });
const FAST = { attempts: 4, startingDelayMs: 1, maxDelayMs: 2 };

describe('isRetryableAwsError', () => {
  it('retries throttling, server errors, 5xx/429 statuses and dropped connections', () => {
    expect(isRetryableAwsError(new ThrottlingException(opts('slow down')))).toBe(true);
    expect(isRetryableAwsError(new InternalServerException(opts('oops')))).toBe(true);
    expect(isRetryableAwsError(Object.assign(new Error('bad gateway'), { $metadata: { httpStatusCode: 502 } }))).toBe(true);
    expect(isRetryableAwsError(Object.assign(new Error('too many'), { $metadata: { httpStatusCode: 429 } }))).toBe(true);
    expect(isRetryableAwsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
  });

  it('does not retry what the request itself caused', () => {
    expect(isRetryableAwsError(new ValidationException(opts('bad')))).toBe(false);
    expect(isRetryableAwsError(new ResourceNotFoundException(opts('no table')))).toBe(false);
    expect(isRetryableAwsError(new RejectedRecordsException({ ...opts('rejected'), RejectedRecords: [] }))).toBe(false);
    expect(isRetryableAwsError(Object.assign(new Error('denied'), { $metadata: { httpStatusCode: 403 } }))).toBe(false);
    expect(isRetryableAwsError(new Error('plain'))).toBe(false);
    expect(isRetryableAwsError(undefined)).toBe(false);
  });
});

describe('withRetries', () => {
  it('retries a throttled call until it succeeds, reporting each retry', async () => {
    let calls = 0;
    const retries: number[] = [];
    const result = await withRetries(
      async () => {
        calls += 1;
        if (calls < 3) throw new ThrottlingException(opts('slow down'));
        return 'ok';
      },
      FAST,
      (_err, failed) => retries.push(failed),
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it('gives up after the policy attempts with the last error', async () => {
    let calls = 0;
    const retries: number[] = [];
    await expect(
      withRetries(
        async () => {
          calls += 1;
          throw new InternalServerException(opts(`failure ${calls}`));
        },
        FAST,
        (_err, failed) => retries.push(failed),
      ),
    ).rejects.toThrow('failure 4');
    expect(calls).toBe(4);
    expect(retries).toEqual([1, 2, 3]);
  });

  it('does not retry a non-retryable error', async () => {
    let calls = 0;
    await expect(
      withRetries(async () => {
        calls += 1;
        throw new ValidationException(opts('bad record'));
      }, FAST),
    ).rejects.toThrow('bad record');
    expect(calls).toBe(1);
  });
});
