import MultivariateLinearRegression from 'ml-regression-multivariate-linear';
import type { RandomGenerator } from 'pure-rand/lib/types/RandomGenerator';

// pure-rand 8 publishes its entry points only through package.json "exports", which the
// workspace's `moduleResolution: node` cannot see (as in simulator/src/random.ts).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { xoroshiro128plus } = require('pure-rand/generator/xoroshiro128plus') as typeof import('pure-rand/lib/generator/xoroshiro128plus');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { uniformFloat64 } = require('pure-rand/distribution/uniformFloat64') as typeof import('pure-rand/lib/distribution/uniformFloat64');

/** Nearest-rank percentile (as the windows compute theirs): the smallest value with at least p % of the values at or below it. */
export function nearestRank(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

export function mean(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length === 0 ? Number.NaN : sum / values.length;
}

export interface OlsFit {
  coefficients: number[];
  standardErrors: number[];
  /** Residual degrees of freedom, rows − columns. */
  df: number;
  residualSd: number;
}

/**
 * Ordinary least squares y ≈ X·b (X carries its own intercept column), with the coefficients'
 * standard errors from σ̂²(XᵀX)⁻¹ — ml-regression's multivariate linear regression.
 */
export function ols(x: readonly (readonly number[])[], y: readonly number[]): OlsFit {
  const fit = regression(x, y, true);
  const coefficients = fit.weights.map((w) => w[0]);
  const p = coefficients.length;
  let sse = 0;
  for (let i = 0; i < x.length; i++) {
    let predicted = 0;
    for (let j = 0; j < p; j++) predicted += coefficients[j] * x[i][j];
    sse += (y[i] - predicted) ** 2;
  }
  const df = x.length - p;
  return { coefficients, standardErrors: fit.stdErrors, df, residualSd: Math.sqrt(sse / df) };
}

/** The least-squares coefficients alone (no standard errors: cheaper, for bootstraps and iterations). */
export function olsCoefficients(x: readonly (readonly number[])[], y: readonly number[]): number[] {
  return regression(x, y, false).weights.map((w) => w[0]);
}

function regression(x: readonly (readonly number[])[], y: readonly number[], statistics: boolean): MultivariateLinearRegression {
  const p = x[0]?.length ?? 0;
  if (x.length <= p) throw new RangeError(`ols: ${x.length} rows cannot fit ${p} coefficients`);
  return new MultivariateLinearRegression(
    x.map((row) => [...row]),
    y.map((v) => [v]),
    { intercept: false, statistics },
  );
}

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * Student-t quantile by the Cornish–Fisher expansion around the normal one (Abramowitz & Stegun
 * 26.7.5): within 1e-3 of the exact value from 5 degrees of freedom up, which is all an interval
 * of a CVR factor needs (the refusal below 8 days of each kind keeps df well above that).
 */
export function studentTQuantile(p: number, df: number): number {
  const z = normalQuantile(p);
  const z3 = z ** 3;
  const z5 = z ** 5;
  const z7 = z ** 7;
  return (
    z +
    (z3 + z) / (4 * df) +
    (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2) +
    (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3)
  );
}

/** A seeded stream of uniforms (xoroshiro128+ from pure-rand): bootstrap intervals are reproducible. */
export class SeededRandom {
  private readonly rng: RandomGenerator;

  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed | 0);
  }

  /** Uniform in [0, 1). */
  next(): number {
    return uniformFloat64(this.rng);
  }

  /** A whole number in [0, n). */
  below(n: number): number {
    return Math.min(n - 1, Math.floor(this.next() * n));
  }
}

/** A seed from a text (FNV-1a), so each line's bootstrap draws from its own reproducible stream. */
export function seedOf(text: string, base = 0): number {
  let h = (0x811c9dc5 ^ base) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h | 0;
}
