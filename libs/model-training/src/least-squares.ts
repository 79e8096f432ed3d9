import MultivariateLinearRegression from 'ml-regression-multivariate-linear';

export interface LeastSquaresOptions {
  /**
   * A Gaussian prior on the weights (ridge towards `prior`, one variance per weight): without it,
   * a few hours of time-of-day terms are nearly collinear with each other and with the load, and
   * plain least squares extrapolates them wildly into the next hours. With it the fit is the
   * posterior mode, as the online model's RLS would reach from the same prior.
   */
  prior?: { weights: readonly number[]; variance: readonly number[] };
  /** Rows whose residual exceeds this many robust standard deviations are dropped and the fit redone once (faults in the training data). */
  trimSigmas?: number;
}

export interface LeastSquaresFit {
  weights: number[];
  /** Rows the final fit used (all minus the trimmed). */
  rows: number;
  /** Mean absolute residual over those rows. */
  meanAbsResidual: number;
}

/** Residual variance never counts as smaller than this (V²) when weighing the prior: a perfect fit must not make the prior vanish. */
const MIN_RESIDUAL_VARIANCE = 1e-4;
/** Median absolute deviation × this estimates σ of normal residuals. */
const MAD_TO_SIGMA = 1.4826;

/**
 * Linear least squares y ≈ X·w without an added intercept column (callers pass their own
 * intercept feature, as the online model's feature vectors carry one), solved with ml-regression's
 * multivariate linear regression. Deterministic: the same rows in the same order give the same weights.
 */
export function fitLeastSquares(x: readonly (readonly number[])[], y: readonly number[], options: LeastSquaresOptions = {}): LeastSquaresFit {
  if (x.length !== y.length) throw new RangeError(`fitLeastSquares: ${x.length} rows but ${y.length} targets`);
  if (x.length === 0) throw new RangeError('fitLeastSquares: no rows');
  let rows = x;
  let targets = y;
  let weights = solve(rows, targets, options.prior);
  if (options.trimSigmas !== undefined) {
    const residuals = y.map((v, i) => v - dot(weights, x[i]));
    const limit = options.trimSigmas * Math.max(Math.sqrt(MIN_RESIDUAL_VARIANCE), MAD_TO_SIGMA * median(residuals.map(Math.abs)));
    const kept = residuals.map((r, i) => (Math.abs(r) <= limit ? i : -1)).filter((i) => i >= 0);
    if (kept.length < x.length && kept.length >= weights.length) {
      rows = kept.map((i) => x[i]);
      targets = kept.map((i) => y[i]);
      weights = solve(rows, targets, options.prior);
    }
  }
  let absSum = 0;
  for (let i = 0; i < rows.length; i++) absSum += Math.abs(targets[i] - dot(weights, rows[i]));
  return { weights, rows: rows.length, meanAbsResidual: absSum / rows.length };
}

function solve(x: readonly (readonly number[])[], y: readonly number[], prior: LeastSquaresOptions['prior']): number[] {
  const plain = regress(x, y);
  if (prior === undefined) return plain;
  const d = plain.length;
  if (prior.weights.length !== d || prior.variance.length !== d) throw new RangeError(`fitLeastSquares: the prior must have ${d} weights and variances`);
  // MAP with noise variance s² (from the plain fit) and prior N(p, τ²): append, per weight,
  // the pseudo-observation (s/τ)·e_i → (s/τ)·p_i. Ordinary least squares on the augmented rows.
  let squares = 0;
  for (let i = 0; i < x.length; i++) squares += (y[i] - dot(plain, x[i])) ** 2;
  const noiseVariance = Math.max(MIN_RESIDUAL_VARIANCE, squares / Math.max(1, x.length - d));
  const rows: number[][] = x.map((r) => Array.from(r));
  const targets: number[] = Array.from(y);
  for (let i = 0; i < d; i++) {
    const strength = Math.sqrt(noiseVariance / prior.variance[i]);
    const row = new Array<number>(d).fill(0);
    row[i] = strength;
    rows.push(row);
    targets.push(strength * prior.weights[i]);
  }
  return regress(rows, targets);
}

function regress(x: readonly (readonly number[])[], y: readonly number[]): number[] {
  const model = new MultivariateLinearRegression(
    x.map((r) => Array.from(r)),
    y.map((v) => [v]),
    { intercept: false, statistics: false },
  );
  return model.weights.map((w) => w[0]);
}

function dot(w: readonly number[], x: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] * x[i];
  return s;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
