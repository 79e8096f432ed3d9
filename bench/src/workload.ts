import { fleetLayout, generateMessages, type SimMessage, type SimulatorOptions } from '@meterstream/simulator';

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

function simulatorOptions(w: Workload): SimulatorOptions {
  return { seed: w.seed, lines: w.lines, metersPerLine: w.metersPerLine, intervalMs: INTERVAL_MS, start: WORKLOAD_START, durationMs: w.intervals * INTERVAL_MS, faults: 'none' };
}

/** The readings of the workload, one per message. */
export function workloadReadings(w: Workload): SimMessage[] {
  return [...generateMessages(simulatorOptions(w))];
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
 * One reading per meter far past the workload's end: every line's event time (the lower median of
 * its meters' newest readings, so one reading from one meter would not move it) passes the last
 * window, so every window of the workload fires (as the next readings would in production). Their
 * own windows never fire; they are not part of the workload's count.
 */
export function closingMessages(w: Workload): { topic: string; payload: Buffer }[] {
  const ts = WORKLOAD_START + w.intervals * INTERVAL_MS + 10 * 60_000;
  return fleetLayout(simulatorOptions(w)).flatMap((line) =>
    line.meters.map(({ deviceId }) => ({ topic: line.topic, payload: Buffer.from(JSON.stringify({ deviceId, ts, voltage: 120 })) })),
  );
}
