import { PutRecordsCommand, type PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { backOff } from 'exponential-backoff';
import type { KinesisSender } from './client';
import { describeError } from './errors';
import { splitIntoPutBatches, type PutEntry } from './put-batches';
import type { KinesisRetryPolicy } from './retry';

/**
 * Stores entries in stream `name` with PutRecords requests within the service limits, one after
 * another so a later request never overtakes an earlier one.
 */
export async function putRecords(client: KinesisSender, name: string, entries: readonly PutEntry[], policy: KinesisRetryPolicy): Promise<void> {
  let stored = 0;
  for (const batch of splitIntoPutBatches(entries)) {
    await putBatch(client, name, batch, stored, policy);
    stored += batch.length;
  }
}

/**
 * One PutRecords request, re-sent until every record is stored. A failed request is retried by
 * the SDK; a successful answer that rejects some records (FailedRecordCount > 0) is the SDK's
 * success, so those rounds are ours: only the records whose result carries an ErrorCode are
 * sent again, so none is stored twice.
 */
async function putBatch(client: KinesisSender, name: string, batch: readonly PutEntry[], storedBefore: number, policy: KinesisRetryPolicy): Promise<void> {
  let pending = batch;
  /** HTTP requests sent, the SDK's retries included. */
  let attempts = 0;
  try {
    await backOff(
      async () => {
        let response: PutRecordsCommandOutput;
        try {
          response = (await client.send(
            new PutRecordsCommand({ StreamName: name, Records: pending.map((e) => ({ PartitionKey: e.key, Data: e.data })) }),
          )) as PutRecordsCommandOutput;
        } catch (error) {
          attempts += sdkAttempts(error);
          throw error;
        }
        attempts += sdkAttempts(response);
        if (!response.FailedRecordCount) {
          pending = [];
          return;
        }
        const results = response.Records ?? [];
        if (results.length !== pending.length) {
          throw new Error(`PutRecords answered ${results.length} results for ${pending.length} records`);
        }
        const failure = new PartialPutFailure(results.filter((r) => r.ErrorCode).map((r) => ({ code: r.ErrorCode as string, message: r.ErrorMessage })));
        pending = pending.filter((_, i) => results[i].ErrorCode);
        throw failure;
      },
      {
        numOfAttempts: policy.maxRetries + 1,
        startingDelay: policy.baseDelayMs,
        timeMultiple: 2,
        maxDelay: policy.maxDelayMs,
        jitter: policy.jitter,
        retry: (error: unknown) => error instanceof PartialPutFailure && error.retryable,
      },
    );
  } catch (cause) {
    throw new Error(
      `Kinesis append to ${name}: ${pending.length} of ${batch.length} records of a PutRecords request were not stored ` +
        `after ${attempts} attempt(s): ${cause instanceof PartialPutFailure ? cause.message : describeError(cause)}` +
        (storedBefore > 0 ? `; the ${storedBefore} records before that request are stored` : ''),
      { cause },
    );
  }
}

const RETRYABLE_RECORD_ERRORS = new Set(['ProvisionedThroughputExceededException', 'InternalFailure', 'KMSThrottlingException']);

/** Per-record rejections from one PutRecords answer, summarised by error code. */
class PartialPutFailure extends Error {
  override readonly name = 'PartialPutFailure';
  /** Throttling and internal failures are worth another round; a KMS key that is disabled or denied is not. */
  readonly retryable: boolean;

  constructor(failures: { code: string; message?: string }[]) {
    const byCode = new Map<string, { count: number; message?: string }>();
    for (const f of failures) {
      const entry = byCode.get(f.code) ?? { count: 0, message: f.message };
      entry.count++;
      byCode.set(f.code, entry);
    }
    super([...byCode].map(([code, e]) => `${e.count} × ${code}${e.message ? ` (${e.message})` : ''}`).join(', '));
    this.retryable = [...byCode.keys()].every((code) => RETRYABLE_RECORD_ERRORS.has(code));
  }
}

/** Requests the SDK client sent for one call (1 from a fake client, which reports none). */
function sdkAttempts(outcome: unknown): number {
  return (outcome as { $metadata?: { attempts?: number } } | null)?.$metadata?.attempts ?? 1;
}
