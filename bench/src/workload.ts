import { generateMessages, type SimMessage } from '@meterstream/simulator';

/** The recorded input every benchmark phase uses: a healthy fleet, no faults, fixed seed. */
export interface Workload {
  lines: number;
  metersPerLine: number;
  intervals: number;
  seed: number;
  /**
   * 1: every meter publishes its own reading. More: a data concentrator per line publishes its
   * meters' readings of one interval together as a JSON array of up to this many.
   */
  readingsPerMessage: number;
}

export const WORKLOAD_START = Date.parse('2026-01-05T00:00:00Z');
export const INTERVAL_MS = 15_000;

/** The readings of the workload, one per message. */
export function workloadReadings(w: Workload): SimMessage[] {
  return [
    ...generateMessages({
      seed: w.seed,
      lines: w.lines,
      metersPerLine: w.metersPerLine,
      intervalMs: INTERVAL_MS,
      start: WORKLOAD_START,
      durationMs: w.intervals * INTERVAL_MS,
      faults: 'none',
    }),
  ];
}

/** What the publisher sends: single readings, or per-line arrays when concentrators batch them. */
export function workloadMessages(w: Workload): { topic: string; payload: Buffer }[] {
  const readings = workloadReadings(w);
  if (w.readingsPerMessage <= 1) return readings;
  const messages: { topic: string; payload: Buffer }[] = [];
  const pending = new Map<string, Buffer[]>();
  const flush = (topic: string, parts: Buffer[]) => messages.push({ topic, payload: Buffer.concat([Buffer.from('['), Buffer.from(parts.join(',')), Buffer.from(']')]) });
  for (const r of readings) {
    const parts = pending.get(r.topic) ?? [];
    parts.push(r.payload);
    pending.set(r.topic, parts);
    if (parts.length === w.readingsPerMessage) {
      flush(r.topic, parts);
      pending.delete(r.topic);
    }
  }
  for (const [topic, parts] of pending) flush(topic, parts);
  return messages;
}

/**
 * One reading per line far past the workload's end: it moves every partition's watermark beyond
 * the last window, so every window of the workload fires (as a later reading would in production).
 */
export function closingMessages(w: Workload): { topic: string; payload: Buffer }[] {
  const ts = WORKLOAD_START + w.intervals * INTERVAL_MS + 10 * 60_000;
  return Array.from({ length: w.lines }, (_, i) => {
    const lineId = `L${String(i + 1).padStart(w.lines > 99 ? 3 : 2, '0')}`;
    return { topic: `line/${lineId}/SmartMeterData`, payload: Buffer.from(JSON.stringify({ deviceId: `bench-close-${lineId}`, ts, voltage: 120 })) };
  });
}
