import { deadLetter, readingTopic, type DeadLetterEnvelope } from '@meterstream/contracts';
import type { RejectedReading } from '@meterstream/processing';

/**
 * Readings the topology refused (a meter clock far ahead of its line) as dead letters: the reason,
 * the line's topic and the reading as it was stored, so they can be replayed once the clock is
 * fixed. Deterministic (the id hashes topic and bytes; the time is the reading's ingest time), so
 * a batch written again after a crash yields the same records. Every commit strategy appends them
 * to the dead-letters stream (outputRecords), from which the processor reads them back into the
 * read model like every other dead letter.
 */
export function rejectedDeadLetters(rejected: readonly RejectedReading[] | undefined): DeadLetterEnvelope[] {
  if (!rejected || rejected.length === 0) return [];
  return rejected.map(({ reading, reason }) =>
    deadLetter(readingTopic(reading.lineId), Buffer.from(JSON.stringify(reading.body)), [{ field: 'ts', message: reason }], reading.ingestTime, reading.deviceId),
  );
}
