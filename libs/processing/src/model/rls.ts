import { dot } from './features';

/** JSON form of a RecursiveLeastSquares. */
export interface RlsSnapshot {
  weights: number[];
  /** Row-major d×d covariance. */
  covariance: number[];
  updates: number;
}

/**
 * Recursive least squares with exponential forgetting: the incremental update between batch fits.
 * Each update costs O(d²) and the state is d² + d numbers whatever the history length, so the
 * model adapts to load without growing memory. `forgetting` λ < 1 weights an observation k updates
 * old by λ^k (an effective memory of about 1 / (1 − λ) updates).
 *
 * The covariance starts as diag(priorVariance): a small variance holds a weight near its prior
 * until the data clearly says otherwise, which keeps a young model from extrapolating wildly.
 */
export class RecursiveLeastSquares {
  readonly weights: Float64Array;
  /** Row-major d×d. */
  readonly covariance: Float64Array;
  updates = 0;
  private readonly gain: Float64Array;
  private readonly px: Float64Array;

  constructor(
    readonly dimension: number,
    private readonly forgetting: number,
    priorWeights: readonly number[],
    priorVariance: readonly number[],
  ) {
    if (priorWeights.length !== dimension || priorVariance.length !== dimension) throw new RangeError('RecursiveLeastSquares: prior length must equal the dimension');
    this.weights = Float64Array.from(priorWeights);
    this.covariance = new Float64Array(dimension * dimension);
    for (let i = 0; i < dimension; i++) this.covariance[i * dimension + i] = priorVariance[i];
    this.gain = new Float64Array(dimension);
    this.px = new Float64Array(dimension);
  }

  predict(x: ArrayLike<number>): number {
    return dot(this.weights, x);
  }

  /** One observation y at features x. Returns the a-priori error y − predict(x). */
  update(x: ArrayLike<number>, y: number): number {
    const d = this.dimension;
    const P = this.covariance;
    const px = this.px;
    let denominator = this.forgetting;
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += P[i * d + j] * x[j];
      px[i] = s;
      denominator += x[i] * s;
    }
    const error = y - this.predict(x);
    for (let i = 0; i < d; i++) {
      this.gain[i] = px[i] / denominator;
      this.weights[i] += this.gain[i] * error;
    }
    // P = (P − k (P x)ᵀ) / λ, kept symmetric so rounding never makes it indefinite.
    const inverseForgetting = 1 / this.forgetting;
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const value = (P[i * d + j] - this.gain[i] * px[j]) * inverseForgetting;
        P[i * d + j] = value;
        P[j * d + i] = value;
      }
    }
    this.updates++;
    return error;
  }

  /** Replaces the weights (a batch fit) and resets the covariance to the given variances. */
  reset(weights: readonly number[], variance: readonly number[]): void {
    const d = this.dimension;
    this.weights.set(weights);
    this.covariance.fill(0);
    for (let i = 0; i < d; i++) this.covariance[i * d + i] = variance[i];
  }

  snapshot(): RlsSnapshot {
    return { weights: Array.from(this.weights), covariance: Array.from(this.covariance), updates: this.updates };
  }

  restore(snapshot: RlsSnapshot): void {
    this.weights.set(snapshot.weights);
    this.covariance.set(snapshot.covariance);
    this.updates = snapshot.updates;
  }
}
