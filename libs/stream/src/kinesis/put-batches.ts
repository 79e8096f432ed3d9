/**
 * PutRecords service limits and the split of one append into requests that respect them.
 * https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html
 */
export const KINESIS_LIMITS = {
  /** Records per PutRecords request. */
  recordsPerPut: 500,
  /** Bytes per PutRecords request, data and partition keys counted. */
  bytesPerPut: 5 * 1024 * 1024,
  /** Bytes per record, data and partition key counted. */
  bytesPerRecord: 1024 * 1024,
  /** Partition key length, in Unicode characters (code points). */
  partitionKeyChars: 256,
} as const;

export interface PutEntry {
  key: string;
  data: Uint8Array;
  /** Data plus UTF-8 partition key: what Kinesis counts against its limits. */
  size: number;
}

/**
 * Checks every record before anything is sent, so an append that cannot succeed stores nothing
 * (a half-stored append would be duplicated by the caller's retry).
 */
export function toPutEntries(records: readonly { key: string; value: Buffer }[]): PutEntry[] {
  return records.map((record, index) => {
    const chars = [...record.key].length;
    if (chars < 1 || chars > KINESIS_LIMITS.partitionKeyChars) {
      throw new Error(
        `record ${index}: Kinesis partition keys are 1 to ${KINESIS_LIMITS.partitionKeyChars} characters, this one has ${chars}`,
      );
    }
    const size = record.value.length + Buffer.byteLength(record.key, 'utf8');
    if (size > KINESIS_LIMITS.bytesPerRecord) {
      throw new Error(
        `record ${index} (key "${record.key}") is ${size} bytes with its partition key; ` +
          `Kinesis accepts at most ${KINESIS_LIMITS.bytesPerRecord} bytes per record, nothing was appended`,
      );
    }
    return { key: record.key, data: record.value, size };
  });
}

/**
 * Splits entries, in order, into PutRecords requests of at most `recordsPerPut` records and
 * `bytesPerPut` bytes. Order is kept: request n holds records before those of request n + 1.
 */
export function splitIntoPutBatches(
  entries: readonly PutEntry[],
  limits: { recordsPerPut: number; bytesPerPut: number } = KINESIS_LIMITS,
): PutEntry[][] {
  const batches: PutEntry[][] = [];
  let current: PutEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    if (current.length > 0 && (current.length === limits.recordsPerPut || bytes + entry.size > limits.bytesPerPut)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += entry.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
