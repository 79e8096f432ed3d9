import type { RejectedRecord } from '@aws-sdk/client-timestream-write';
import type { ReadingKey } from './timestream-records';

/** A reading Timestream refused for a reason other than already having it. */
export interface RejectedReading extends ReadingKey {
  reason: string;
}

export interface RejectionOutcome {
  /** Records Timestream already holds (same meter, time and measure name): written, in effect. */
  duplicates: number;
  /** Records refused for good (out of retention, over a limit...): reported, never retried. */
  rejected: RejectedReading[];
}

/**
 * Fallback for a duplicate whose rejection lacks ExistingVersion: Timestream words it as a record
 * that "already exists" or whose version is not higher than the stored one.
 */
const DUPLICATE_REASON = /already exists|(same|equal|lower|older|higher)[a-z ]{0,20}version/i;

/**
 * Splits the RejectedRecords of a RejectedRecordsException. The records not listed there were
 * written. A listed record is a duplicate when Timestream names the version it already holds
 * (ExistingVersion), which is how it refuses a second record with the same dimensions, time and
 * measure name at a version that is not higher: for an idempotent sink that means "already
 * written". Anything else is a real rejection, reported with Timestream's reason.
 */
export function classifyRejectedRecords(rejectedRecords: readonly RejectedRecord[], keys: readonly ReadingKey[]): RejectionOutcome {
  const outcome: RejectionOutcome = { duplicates: 0, rejected: [] };
  for (const record of rejectedRecords) {
    const reason = record.Reason ?? 'no reason given';
    if (record.ExistingVersion !== undefined || DUPLICATE_REASON.test(reason)) {
      outcome.duplicates += 1;
      continue;
    }
    const key = record.RecordIndex === undefined ? undefined : keys[record.RecordIndex];
    outcome.rejected.push(
      key ? { ...key, reason } : { deviceId: '(unknown)', lineId: '(unknown)', eventTime: Number.NaN, reason: `record index ${record.RecordIndex ?? '?'} not in the request: ${reason}` },
    );
  }
  return outcome;
}
