import { createHash } from 'node:crypto';

/**
 * Deterministic ids: the same fact always gets the same id, so a duplicate delivery is
 * recognisable everywhere downstream and sinks can be idempotent by id.
 */
export function readingId(deviceId: string, eventTimeMs: number): string {
  return `${deviceId}@${eventTimeMs}`;
}

export function aggregateId(scope: string, windowStartMs: number, windowSizeMs: number): string {
  return `agg:${scope}:${windowStartMs}:${windowSizeMs}`;
}

/** A dead letter is identified by what arrived (topic and bytes), so redelivered garbage dedupes too. */
export function deadLetterId(topic: string, payload: Buffer): string {
  return `dl:${createHash('sha1').update(topic).update('\0').update(payload).digest('hex')}`;
}
