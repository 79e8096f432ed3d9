import {
  BASELINE_FEATURE_COUNT,
  FEATURE_COUNT,
  priorWeights,
  writeBaselineFeatures,
  writeFeatures,
} from './features';
import { RecursiveLeastSquares, type RlsSnapshot } from './rls';

/** Learning rates and priors of the voltage model. Plain data; defaults in DEFAULT_MODEL_OPTIONS. */
export interface VoltageModelOptions {
  /**
   * Time constants (event time, ms) of the line level and the line load EWMAs: time-based, so a
   * line of 20 meters and one of 500 follow their load equally fast.
   */
  levelTauMs: number;
  loadTauMs: number;
  /** RLS forgetting of the per-line reading model (per reading). */
  forgetting: number;
  /** RLS forgetting of a meter's offset model (per reading of that meter). */
  meterForgetting: number;
  /** RLS forgetting of the line baseline (per fired line window). */
  baselineForgetting: number;
  /** EWMA weight of one residual in the robust spread estimate. */
  spreadAlpha: number;
  /** The spread never counts as smaller than this (volts): a perfectly quiet line must not make 0.05 V an anomaly. */
  minSpreadV: number;
  /**
   * The reading weights learn from every n-th learnable reading of the line (the level, the meter
   * offsets and the spread from every one). Eight weights shared by a whole line move slowly; the
   * O(d²) update on each of 200 readings a minute buys nothing but CPU.
   */
  weightUpdateEvery: number;
}

export const DEFAULT_MODEL_OPTIONS: VoltageModelOptions = {
  levelTauMs: 60_000,
  loadTauMs: 120_000,
  forgetting: 0.9999,
  meterForgetting: 0.9995,
  baselineForgetting: 0.999,
  spreadAlpha: 0.01,
  minSpreadV: 0.1,
  weightUpdateEvery: 4,
};

/** Mean absolute deviation × √(π/2) estimates σ for normal residuals, and shrugs off outliers far better than a variance. */
const MEAN_ABS_TO_SIGMA = Math.sqrt(Math.PI / 2);

/** The learned parameters of one line, as a published model version carries them. */
export interface LineModelParameters {
  /** Reading model weights, in FEATURE_NAMES order. */
  weights: number[];
  /** Line baseline weights, in BASELINE_FEATURE_NAMES order. */
  baseline: number[];
  /** Meter offset models: deviceId → [offset at zero load (V), volts per kW of line load]. */
  meters: Record<string, [number, number]>;
  /** Mean absolute residual of readings (V) and of line windows against the baseline (V). */
  meanAbsResidual: number;
  baselineMeanAbsResidual: number;
}

/** A reading scored by the model (before the model learns from it). */
export interface ScoredReading {
  deviceId: string;
  eventTime: number;
  voltage: number;
  predicted: number;
  residual: number;
  /** residual / spread. */
  score: number;
  spread: number;
  /** The meter's offset model has seen this many readings (its warm-up). */
  meterReadings: number;
  loadKw: number;
  meterOffset: number;
  lineLevel: number;
}

/** The model's own scored reading: one reused object per line (no allocation per reading), and the meter's state. */
interface ScoredInternal extends ScoredReading {
  meter: MeterState | undefined;
}

/** A fired line window scored against the line baseline. */
export interface ScoredWindow {
  mean: number;
  expected: number;
  residual: number;
  score: number;
  spread: number;
  /** Windows the baseline has learned from (its warm-up). */
  baselineWindows: number;
}

interface MeterState {
  offset: RecursiveLeastSquares;
  readings: number;
}

export interface LineVoltageModelSnapshot {
  level: number | null;
  load: number | null;
  levelTime: number | null;
  loadTime: number | null;
  learnable: number;
  meanAbs: number | null;
  baselineMeanAbs: number | null;
  reading: RlsSnapshot;
  baseline: RlsSnapshot;
  meters: Array<[string, RlsSnapshot, number]>;
}

/**
 * Weight of a new observation in a time-based EWMA after `gapMs` of event time: 1 − e^(−gap/τ).
 * Readings of one instant (or out of order) still count a little, as if 1 ms apart.
 */
function ewmaWeight(gapMs: number, tauMs: number): number {
  return 1 - Math.exp(-Math.max(1, Number.isFinite(gapMs) ? gapMs : tauMs) / tauMs);
}

/** The learning count a published (batch-fitted) model starts from: past every warm-up. */
const TRAINED_UPDATES = 100_000;

const READING_PRIOR_VARIANCE = [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 1e-4, 1e-4];
const BASELINE_PRIOR_VARIANCE = [100, 0.25, 0.25, 0.25, 0.25, 25];
const METER_PRIOR_VARIANCE = [1, 1];

/**
 * The online voltage model of one line. It predicts each reading as a linear function of
 * FEATURE_NAMES (time of day, line load, the meter's learned offset at this load, the line's
 * recent level) and keeps a line baseline: what the line's window mean should be at this hour and
 * load, *without* its recent level — the reference that a regulator stuck several taps low visibly
 * departs from, while the reading model follows the line and isolates single meters.
 *
 * Memory is fixed per line and per meter (RLS state, a few EWMAs), whatever the history.
 * Pure and deterministic: the same readings in the same order give the same state.
 */
export class LineVoltageModel {
  private level = NaN;
  private load = NaN;
  /** Event time of the last reading that moved the level / the load. */
  private levelTime = NaN;
  private loadTime = NaN;
  private meanAbs = NaN;
  private baselineMeanAbs = NaN;
  private readonly reading: RecursiveLeastSquares;
  private readonly baseline: RecursiveLeastSquares;
  private readonly meters = new Map<string, MeterState>();
  private readonly x = new Float64Array(FEATURE_COUNT);
  /** Event time of the reading whose features are in x. */
  private xTime = NaN;
  /** Learnable readings since the last weight update (see weightUpdateEvery). */
  private learnable = 0;
  private readonly bx = new Float64Array(BASELINE_FEATURE_COUNT);
  private readonly mx = new Float64Array(2);
  private readonly scored: ScoredInternal = {
    deviceId: '',
    eventTime: 0,
    voltage: 0,
    predicted: 0,
    residual: 0,
    score: 0,
    spread: 0,
    meterReadings: 0,
    loadKw: 0,
    meterOffset: 0,
    lineLevel: 0,
    meter: undefined,
  };

  constructor(private readonly options: VoltageModelOptions = DEFAULT_MODEL_OPTIONS) {
    this.reading = new RecursiveLeastSquares(FEATURE_COUNT, options.forgetting, priorWeights(), READING_PRIOR_VARIANCE);
    this.baseline = new RecursiveLeastSquares(BASELINE_FEATURE_COUNT, options.baselineForgetting, [0, 0, 0, 0, 0, 0], BASELINE_PRIOR_VARIANCE);
  }

  /**
   * Scores a reading; call learn() afterwards (or not, for an anomalous one). kw may be absent.
   * The result is reused by the next call: read it (or copy it) before scoring another reading.
   */
  score(deviceId: string, eventTime: number, voltage: number, kw: number | undefined): ScoredReading {
    if (kw !== undefined && Number.isFinite(kw)) {
      this.load = Number.isNaN(this.load) ? kw : this.load + ewmaWeight(eventTime - this.loadTime, this.options.loadTauMs) * (kw - this.load);
      if (!(eventTime < this.loadTime)) this.loadTime = eventTime;
    }
    const load = Number.isNaN(this.load) ? 0 : this.load;
    const meter = this.meters.get(deviceId);
    let offset = 0;
    if (meter !== undefined) {
      this.mx[0] = 1;
      this.mx[1] = load;
      offset = meter.offset.predict(this.mx);
    }
    const level = Number.isNaN(this.level) ? voltage - offset : this.level;
    const predicted = this.reading.predict(writeFeatures(this.x, eventTime, load, offset, level));
    this.xTime = eventTime;
    const residual = voltage - predicted;
    const spread = this.spread();
    const scored = this.scored;
    scored.deviceId = deviceId;
    scored.eventTime = eventTime;
    scored.voltage = voltage;
    scored.predicted = predicted;
    scored.residual = residual;
    scored.score = residual / spread;
    scored.spread = spread;
    scored.meterReadings = meter?.readings ?? 0;
    scored.loadKw = load;
    scored.meterOffset = offset;
    scored.lineLevel = level;
    scored.meter = meter;
    return scored;
  }

  /**
   * Learns from a scored reading. `meter`: update the meter's offset model (not while the meter
   * looks faulty: a drift must not be learned as the new normal). `weights`: update the reading
   * model and the spread (not during a line-wide event or for an outlier).
   */
  learn(scored: ScoredReading, meter: boolean, weights: boolean): void {
    const { deviceId, voltage } = scored;
    let state = scored === this.scored && this.scored.deviceId === deviceId ? this.scored.meter : this.meters.get(deviceId);
    if (state === undefined) {
      // A new meter starts at its first deviation from the line, with no load dependence yet.
      state = { offset: new RecursiveLeastSquares(2, this.options.meterForgetting, [voltage - scored.lineLevel, 0], METER_PRIOR_VARIANCE), readings: 0 };
      this.meters.set(deviceId, state);
    }
    if (meter) {
      this.mx[0] = 1;
      this.mx[1] = scored.loadKw;
      state.offset.update(this.mx, voltage - scored.lineLevel);
      state.readings++;
    }
    if (weights) {
      if (++this.learnable >= this.options.weightUpdateEvery) {
        this.learnable = 0;
        // score() left this reading's features in this.x (learn always follows its score); rewrite only if not.
        if (this.xTime !== scored.eventTime || this.x[6] !== scored.meterOffset) writeFeatures(this.x, scored.eventTime, scored.loadKw, scored.meterOffset, scored.lineLevel);
        this.reading.update(this.x, voltage);
      }
      const abs = Math.abs(scored.residual);
      this.meanAbs = Number.isNaN(this.meanAbs) ? Math.max(abs, this.options.minSpreadV) : this.meanAbs + this.options.spreadAlpha * (abs - this.meanAbs);
    }
  }

  /**
   * Moves the line's recent level towards this reading (corrected by its meter's offset). State,
   * not a parameter: it follows the line through a sag or a tap change too, which is what lets
   * meter scoring resume; only readings of suspect meters are kept out of it.
   */
  follow(scored: ScoredReading): void {
    const corrected = scored.voltage - scored.meterOffset;
    this.level = Number.isNaN(this.level) ? corrected : this.level + ewmaWeight(scored.eventTime - this.levelTime, this.options.levelTauMs) * (corrected - this.level);
    if (!(scored.eventTime < this.levelTime)) this.levelTime = scored.eventTime;
  }

  /** Scores a fired line window (its mean voltage and mean kW) against the line baseline. */
  scoreWindow(midTime: number, meanVoltage: number, meanKw: number | undefined): ScoredWindow {
    const load = meanKw ?? (Number.isNaN(this.load) ? 0 : this.load);
    if (this.baseline.updates === 0) this.baseline.weights[0] = meanVoltage; // anchor the intercept on the first window
    const expected = this.baseline.predict(writeBaselineFeatures(this.bx, midTime, load));
    const residual = meanVoltage - expected;
    const spread = Math.max(this.options.minSpreadV, (Number.isNaN(this.baselineMeanAbs) ? Infinity : this.baselineMeanAbs) * MEAN_ABS_TO_SIGMA);
    return { mean: meanVoltage, expected, residual, score: Number.isFinite(spread) ? residual / spread : 0, spread, baselineWindows: this.baseline.updates };
  }

  /** Learns the baseline from a scored window (not while the line is in a fault). */
  learnWindow(midTime: number, meanKw: number | undefined, scored: ScoredWindow): void {
    const load = meanKw ?? (Number.isNaN(this.load) ? 0 : this.load);
    this.baseline.update(writeBaselineFeatures(this.bx, midTime, load), scored.mean);
    const abs = Math.abs(scored.residual);
    this.baselineMeanAbs = Number.isNaN(this.baselineMeanAbs) ? abs : this.baselineMeanAbs + 0.05 * (abs - this.baselineMeanAbs);
  }

  spread(): number {
    return Math.max(this.options.minSpreadV, Number.isNaN(this.meanAbs) ? 1 : this.meanAbs * MEAN_ABS_TO_SIGMA);
  }

  /** The learned parameters, as a model version publishes them. */
  parameters(): LineModelParameters {
    const meters: Record<string, [number, number]> = {};
    for (const [id, state] of this.meters) meters[id] = [state.offset.weights[0], state.offset.weights[1]];
    return {
      weights: Array.from(this.reading.weights),
      baseline: Array.from(this.baseline.weights),
      meters,
      meanAbsResidual: Number.isNaN(this.meanAbs) ? 0 : this.meanAbs,
      baselineMeanAbsResidual: Number.isNaN(this.baselineMeanAbs) ? 0 : this.baselineMeanAbs,
    };
  }

  /**
   * Installs published parameters (a batch fit): weights replace the learned ones and keep
   * learning online from there; the covariances restart from the priors, so the new version is
   * trusted as strongly as the prior was. The recent level and load (state, not parameters) stay.
   */
  install(parameters: LineModelParameters): void {
    this.reading.reset(parameters.weights, READING_PRIOR_VARIANCE);
    this.baseline.reset(parameters.baseline, BASELINE_PRIOR_VARIANCE.map((v) => v / 100));
    // A published model is a trained one: its baseline and meter offsets need no warm-up here.
    this.baseline.updates = Math.max(this.baseline.updates, TRAINED_UPDATES);
    for (const [id, [a, b]] of Object.entries(parameters.meters)) {
      const existing = this.meters.get(id);
      const offset = new RecursiveLeastSquares(2, this.options.meterForgetting, [a, b], METER_PRIOR_VARIANCE.map((v) => v / 100));
      this.meters.set(id, { offset, readings: Math.max(existing?.readings ?? 0, TRAINED_UPDATES) });
    }
    if (parameters.meanAbsResidual > 0) this.meanAbs = parameters.meanAbsResidual;
    if (parameters.baselineMeanAbsResidual > 0) this.baselineMeanAbs = parameters.baselineMeanAbsResidual;
  }

  meterCount(): number {
    return this.meters.size;
  }

  snapshot(): LineVoltageModelSnapshot {
    const nullable = (v: number) => (Number.isNaN(v) ? null : v);
    return {
      level: nullable(this.level),
      load: nullable(this.load),
      levelTime: nullable(this.levelTime),
      loadTime: nullable(this.loadTime),
      learnable: this.learnable,
      meanAbs: nullable(this.meanAbs),
      baselineMeanAbs: nullable(this.baselineMeanAbs),
      reading: this.reading.snapshot(),
      baseline: this.baseline.snapshot(),
      meters: [...this.meters].map(([id, m]) => [id, m.offset.snapshot(), m.readings]),
    };
  }

  static restore(snapshot: LineVoltageModelSnapshot, options: VoltageModelOptions = DEFAULT_MODEL_OPTIONS): LineVoltageModel {
    const model = new LineVoltageModel(options);
    model.level = snapshot.level ?? NaN;
    model.load = snapshot.load ?? NaN;
    model.levelTime = snapshot.levelTime ?? NaN;
    model.learnable = snapshot.learnable ?? 0;
    model.loadTime = snapshot.loadTime ?? NaN;
    model.meanAbs = snapshot.meanAbs ?? NaN;
    model.baselineMeanAbs = snapshot.baselineMeanAbs ?? NaN;
    model.reading.restore(snapshot.reading);
    model.baseline.restore(snapshot.baseline);
    for (const [id, rls, readings] of snapshot.meters) {
      const offset = new RecursiveLeastSquares(2, options.meterForgetting, [0, 0], METER_PRIOR_VARIANCE);
      offset.restore(rls);
      model.meters.set(id, { offset, readings });
    }
    return model;
  }
}
