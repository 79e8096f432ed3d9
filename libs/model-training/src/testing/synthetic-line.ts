import type { ReadingEnvelope } from '@meterstream/contracts';
import { readingEnvelope, seededRandom } from '@meterstream/test-harness';

export const HOUR = 3_600_000;

/** What the synthetic feeder really is: v = level(load) + offset + slope·load + noise. */
export interface SyntheticMeter {
  deviceId: string;
  offsetV: number;
  slopeVPerKw: number;
}

export interface SyntheticLine {
  lineId: string;
  /** Line level at zero load and its fall per kW of line load. */
  levelV: number;
  levelSlopeVPerKw: number;
  meters: SyntheticMeter[];
}

export interface SyntheticOptions {
  seed: number;
  lines: number;
  metersPerLine: number;
  start: number;
  durationMs: number;
  intervalMs?: number;
  /** σ of the Gaussian measurement noise (V). */
  noiseV: number;
  /** The line load (kW per reading) at event time t; every meter reports it as its kW. */
  load?: (t: number) => number;
  /** Per-line truth; default drawn from the seed. Pass the same truth to continue a run later in time. */
  truth?: SyntheticLine[];
}

/** A load that swings between 0.4 and 2 kW over six hours: enough for a slope, not a time-of-day shape. */
export const swingingLoad = (t: number) => 1.2 + 0.8 * Math.sin((2 * Math.PI * t) / (6 * HOUR));

/**
 * A feeder whose physics the fit must recover: meter m of a line reads
 * levelV + levelSlopeVPerKw·load + offsetV_m + slopeVPerKw_m·load + N(0, noiseV²),
 * each meter every intervalMs at its own phase, as envelopes built by the ingest contract.
 * Returned in event order (then deviceId), as retrain orders a line's readings.
 */
export function syntheticReadings(options: SyntheticOptions): { readings: ReadingEnvelope[]; truth: SyntheticLine[] } {
  const random = seededRandom(options.seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const load = options.load ?? swingingLoad;
  const intervalMs = options.intervalMs ?? 15_000;
  const truth =
    options.truth ??
    Array.from({ length: options.lines }, (_, l) => ({
      lineId: `L${String(l + 1).padStart(2, '0')}`,
      levelV: 122 + 2 * random(),
      levelSlopeVPerKw: -1 - random(),
      meters: Array.from({ length: options.metersPerLine }, (_, m) => ({
        deviceId: `m-${String(l * options.metersPerLine + m + 1).padStart(6, '0')}`,
        offsetV: -1 + 1.3 * random(),
        slopeVPerKw: -0.8 * random(),
      })),
    }));
  const readings: ReadingEnvelope[] = [];
  for (let tick = options.start; tick < options.start + options.durationMs; tick += intervalMs) {
    for (const line of truth) {
      line.meters.forEach((meter, m) => {
        const t = tick + Math.floor((m * intervalMs) / line.meters.length);
        const kw = load(t);
        const voltage = line.levelV + line.levelSlopeVPerKw * kw + meter.offsetV + meter.slopeVPerKw * kw + options.noiseV * gaussian();
        readings.push(readingEnvelope(line.lineId, meter.deviceId, t, { voltage, kw }));
      });
    }
  }
  readings.sort((a, b) => a.eventTime - b.eventTime || (a.deviceId! < b.deviceId! ? -1 : a.deviceId! > b.deviceId! ? 1 : 0));
  return { readings, truth };
}
