/**
 * The features the voltage model predicts a reading from, in the order of the weight vector.
 * Each is something a utility engineer would name:
 *
 * - time of day as two Fourier harmonics (24 h and 12 h), so the daily load shape can enter even
 *   where no load is measured;
 * - the line's load: the mean kW per reading on the line, recently (an EWMA across its meters);
 * - the meter's position on the line: its learned offset from the line level at this load;
 * - the line's recent level: an EWMA of the line's readings, each corrected by its meter's offset.
 */
export const FEATURE_NAMES = ['intercept', 'sinDay', 'cosDay', 'sinHalfDay', 'cosHalfDay', 'lineLoadKw', 'meterOffsetV', 'lineLevelV'] as const;
export const FEATURE_COUNT = FEATURE_NAMES.length;

/** Features of the line-level baseline (what the line should be at this hour and load, without its recent level). */
export const BASELINE_FEATURE_NAMES = ['intercept', 'sinDay', 'cosDay', 'sinHalfDay', 'cosHalfDay', 'lineLoadKw'] as const;
export const BASELINE_FEATURE_COUNT = BASELINE_FEATURE_NAMES.length;

const DAY_MS = 86_400_000;

/** Writes the four time-of-day terms of epoch ms `t` (UTC) into out[offset..offset+3]. */
export function writeTimeOfDay(t: number, out: Float64Array, offset: number): void {
  const phase = (2 * Math.PI * (((t % DAY_MS) + DAY_MS) % DAY_MS)) / DAY_MS;
  const s = Math.sin(phase);
  const c = Math.cos(phase);
  out[offset] = s;
  out[offset + 1] = c;
  // The 12 h harmonic by the double-angle identities: two trigonometric calls per reading, not four.
  out[offset + 2] = 2 * s * c;
  out[offset + 3] = c * c - s * s;
}

/** Fills `out` (length FEATURE_COUNT) with a reading's features. */
export function writeFeatures(out: Float64Array, t: number, loadKw: number, meterOffsetV: number, lineLevelV: number): Float64Array {
  out[0] = 1;
  writeTimeOfDay(t, out, 1);
  out[5] = loadKw;
  out[6] = meterOffsetV;
  out[7] = lineLevelV;
  return out;
}

/** Fills `out` (length BASELINE_FEATURE_COUNT) with a line window's baseline features. */
export function writeBaselineFeatures(out: Float64Array, t: number, loadKw: number): Float64Array {
  out[0] = 1;
  writeTimeOfDay(t, out, 1);
  out[5] = loadKw;
  return out;
}

/** The prior of the reading model: "the line's level plus the meter's offset". */
export function priorWeights(): number[] {
  return [0, 0, 0, 0, 0, 0, 1, 1];
}

export function dot(w: ArrayLike<number>, x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += w[i] * x[i];
  return s;
}
