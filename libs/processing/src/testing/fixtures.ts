// Test helpers for the processing specs (not exported from the library).
import { ENVELOPE_VERSION, readingId, type ReadingEnvelope } from '@meterstream/contracts';
import type { ProcessorOptions } from '../options';
import { seededRandom } from '@meterstream/test-harness';

export const T0 = Date.UTC(2026, 10, 29, 5, 0, 0); // aligned to the minute
export const MINUTE = 60_000;

export interface ReadingSpec {
  line?: string;
  device?: string;
  t: number;
  v: number;
  current?: number;
  kw?: number;
  kwh?: number;
  ingest?: number;
}

export function reading({ line = 'L01', device = 'm-1', t, v, current, kw, kwh, ingest }: ReadingSpec): ReadingEnvelope {
  return {
    v: ENVELOPE_VERSION,
    type: 'reading',
    id: readingId(device, t),
    lineId: line,
    deviceId: device,
    eventTime: t,
    ingestTime: ingest ?? t + 500,
    body: {
      deviceId: device,
      lineId: line,
      ts: new Date(t).toISOString(),
      voltage: v,
      ...(current === undefined ? {} : { current }),
      ...(kw === undefined ? {} : { kw }),
      ...(kwh === undefined ? {} : { kwh }),
    },
  };
}

export const baseOptions: ProcessorOptions = {
  windowSizeMs: MINUTE,
  outOfOrdernessMs: 5_000,
  allowedLatenessMs: 0,
  idleTimeoutMs: 30_000,
};

/**
 * Population mean and stddev computed the textbook two-pass way, and percentiles straight from
 * their definition (the smallest value such that at least p % of the values are <= it), as an
 * independent reference.
 */
export function referenceStats(values: number[]): { min: number; max: number; mean: number; stddev: number; p5: number; p95: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return { min: Math.min(...values), max: Math.max(...values), mean, stddev: Math.sqrt(variance), p5: referencePercentile(values, 5), p95: referencePercentile(values, 95) };
}

/** O(n²) on purpose: the definition itself, not the rank formula the code under test uses. */
export function referencePercentile(values: number[], percent: number): number {
  const candidates = [...values].sort((a, b) => a - b);
  return candidates.find((v) => 100 * values.filter((x) => x <= v).length >= percent * values.length)!;
}

/**
 * Energy by definition: per meter, last minus first kWh over its readings with kwh ordered by
 * event time, 0 when the register went backwards; summed in deviceId order. Undefined when no
 * reading had kwh.
 */
export function referenceEnergy(readings: ReadingEnvelope[]): number | undefined {
  const byMeter = new Map<string, Array<{ t: number; kwh: number }>>();
  for (const r of readings) {
    if (r.body.kwh === undefined) continue;
    const list = byMeter.get(r.body.deviceId) ?? [];
    list.push({ t: r.eventTime, kwh: r.body.kwh });
    byMeter.set(r.body.deviceId, list);
  }
  if (byMeter.size === 0) return undefined;
  let sum = 0;
  for (const deviceId of [...byMeter.keys()].sort()) {
    const list = byMeter.get(deviceId)!.sort((a, b) => a.t - b.t || a.kwh - b.kwh);
    sum += Math.max(0, list[list.length - 1].kwh - list[0].kwh);
  }
  return sum;
}

/** One step of a recorded run: a reading from a partition, or the runtime finding its input caught up at `now`. */
export type Step = { kind: 'reading'; partition: string; reading: ReadingEnvelope; now: number } | { kind: 'tick'; now: number };

/**
 * A realistic messy workload: several partitions and lines, meters reporting every 10 s with
 * jitter, out-of-order delivery, redeliveries, a few very late readings, a voltage dip on one
 * line, and a line that goes quiet midway (so idle advancement fires its windows). Meters
 * m0-m2 carry a kWh register (m2 only every other reading; L01-m1's is reset midway), m3 none.
 */
export function messyWorkload(seed: number, readingsPerMeter = 60): Step[] {
  const random = seededRandom(seed);
  const lines = ['L01', 'L02', 'L03', 'L04', 'L05'];
  const partitionOf = (line: string) => `p${lines.indexOf(line) % 3}`;
  const steps: Step[] = [];
  const pending: Array<{ arrival: number; partition: string; reading: ReadingEnvelope }> = [];
  for (const line of lines) {
    for (let m = 0; m < 4; m++) {
      const device = `${line}-m${m}`;
      const count = line === 'L03' ? readingsPerMeter / 2 : readingsPerMeter; // L03 goes quiet
      for (let i = 0; i < count; i++) {
        const t = T0 + i * 10_000 + Math.floor(random() * 1_000);
        const dip = line === 'L02' && i >= 20 && i < 26 ? -9 : 0;
        const v = Math.round((120 + dip + (random() - 0.5) * 4) * 10) / 10;
        const delay = random() < 0.03 ? 120_000 : Math.floor(random() * 4_000); // a few far too late
        // Derived from i, not drawn from `random`, so the rest of the workload stays as it was.
        const register = device === 'L01-m1' && i >= 27 ? (i - 27) * 0.0123 : 1000 * (m + 1) + i * 0.0123;
        const kwh = m < 2 || (m === 2 && i % 2 === 0) ? register : undefined;
        const r = reading({ line, device, t, v, current: random() < 0.5 ? Math.round(random() * 200) / 10 : undefined, kw: random() < 0.3 ? Math.round(random() * 30) / 10 : undefined, kwh, ingest: t + delay });
        pending.push({ arrival: t + delay, partition: partitionOf(line), reading: r });
        if (random() < 0.05) pending.push({ arrival: t + delay + Math.floor(random() * 3_000), partition: partitionOf(line), reading: { ...r, ingestTime: r.ingestTime + 7 } });
      }
    }
  }
  pending.sort((a, b) => a.arrival - b.arrival);
  let lastTick = -Infinity;
  for (const p of pending) {
    // The runtime's clock when it reads the record: its arrival, i.e. its ingest time (ticks stand
    // for the polls that found the input caught up).
    const now = p.arrival;
    if (now - lastTick >= 5_000) {
      steps.push({ kind: 'tick', now });
      lastTick = now;
    }
    steps.push({ kind: 'reading', partition: p.partition, reading: p.reading, now });
  }
  const end = steps[steps.length - 1].now;
  for (let k = 1; k <= 20; k++) steps.push({ kind: 'tick', now: end + k * 20_000 }); // let everything go idle and fire
  return steps;
}
