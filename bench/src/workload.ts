import { generateMessages, type SimMessage } from '@meterstream/simulator';

/** The recorded input every benchmark phase uses: a healthy fleet, no faults, fixed seed. */
export interface Workload {
  lines: number;
  metersPerLine: number;
  intervals: number;
  seed: number;
}

export const WORKLOAD_START = Date.parse('2026-01-05T00:00:00Z');
export const INTERVAL_MS = 15_000;

export function workloadMessages(w: Workload): SimMessage[] {
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
