import type { ReadingEnvelope } from '@meterstream/contracts';
import {
  BASELINE_FEATURE_COUNT,
  DEFAULT_DETECTION_OPTIONS,
  DEFAULT_MODEL_OPTIONS,
  FEATURE_COUNT,
  LineVoltageModel,
  priorWeights,
  writeBaselineFeatures,
  writeFeatures,
  type LineModelParameters,
  type ScoredReading,
  type VoltageModelOptions,
  type VoltageModelVersion,
} from '@meterstream/processing';
import { fitLeastSquares } from './least-squares';

export interface BatchFitOptions {
  /** The online model's learning rates: the feature pipeline must see the level and load the processor sees. */
  modelOptions?: VoltageModelOptions;
  /** The processor's line window (event time, aligned to multiples of it); default one minute. */
  windowSizeMs?: number;
  /** A meter gets a load slope only if the line load it saw spans at least this fraction of its mean; otherwise its mean deviation, slope 0. Default 0.05. */
  minLoadSpanFraction?: number;
  /** Rows with residuals beyond this many robust σ are dropped and the fit redone once; default 4. */
  trimSigmas?: number;
  /** Each pass leaves out the line's first readings, this long in event time, while its level settles from the first reading; default 5 minutes. */
  levelWarmupMs?: number;
  /** The event-time range fitted on, for the model version; default [first reading, last reading + 1 ms). */
  trainedOn?: { from: number; to: number };
  /** Default: the wall clock now (the only non-deterministic field; informational). */
  createdAt?: string;
}

/** How much data went into a line's fit. */
export interface LineFitRows {
  readings: number;
  meters: number;
  /** (load, voltage − level) rows behind the meter offsets, after the level warm-up and trimming. */
  meterRows: number;
  /** Meters whose load did not vary enough for a slope (offset = mean deviation, slope 0). */
  metersWithoutSlope: number;
  /** Feature rows behind the reading weights, after trimming. */
  readingRows: number;
  /** Line windows behind the baseline weights, after trimming. */
  windows: number;
}

/** A fitted model, ready for FileModelRegistry.publish once `rows` is taken off. */
export interface BatchFit extends Omit<VoltageModelVersion, 'version'> {
  rows: Record<string, LineFitRows>;
}

/** Variances of the reading-weight prior (FEATURE_NAMES order): the online model's own, so a batch fit and RLS agree on what "unlikely" means. */
const READING_PRIOR_VARIANCE = [0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 1e-4, 1e-4];
/** Variances of the baseline prior (BASELINE_FEATURE_NAMES order), around the mean window voltage: time-of-day terms stay near 0 unless the data insists. */
const BASELINE_PRIOR_VARIANCE = [100, 0.25, 0.25, 0.25, 0.25, 25];
const METER_PRIOR_VARIANCE = [1, 1];

/**
 * Fits the voltage model's parameters in batch (ml-regression least squares) from readings in
 * event order per line. Per line, three fits, each on features built exactly as the processor
 * builds them:
 *
 * 1. meter offsets: a LineVoltageModel runs online over the line to give, at every reading, the
 *    line load (EWMA of kW) and level (EWMA of offset-corrected readings) the processor would
 *    have; each meter's deviation voltage − level is fitted as a + b·load;
 * 2. reading weights: a second pass with the fitted offsets installed (so the level is corrected
 *    by *them*) collects writeFeatures rows → voltage;
 * 3. line baseline: one-minute event-time windows of the line (mean voltage, mean kW) →
 *    writeBaselineFeatures rows → window mean.
 *
 * The first minutes of each line (levelWarmupMs) are left out of the rows: the level is still
 * settling from its first reading then. Deterministic: same readings, same parameters.
 */
export function fitVoltageModel(readings: Iterable<ReadingEnvelope>, options: BatchFitOptions = {}): BatchFit {
  const modelOptions = options.modelOptions ?? DEFAULT_MODEL_OPTIONS;
  const settings: LineFitSettings = {
    modelOptions,
    windowSizeMs: options.windowSizeMs ?? 60_000,
    minLoadSpanFraction: options.minLoadSpanFraction ?? 0.05,
    trimSigmas: options.trimSigmas ?? 4,
    warmupMs: options.levelWarmupMs ?? 5 * 60_000,
  };
  const byLine = new Map<string, ReadingEnvelope[]>();
  let first = Infinity;
  let last = -Infinity;
  for (const reading of readings) {
    let list = byLine.get(reading.lineId);
    if (list === undefined) byLine.set(reading.lineId, (list = []));
    list.push(reading);
    if (reading.eventTime < first) first = reading.eventTime;
    if (reading.eventTime > last) last = reading.eventTime;
  }
  const lines: Record<string, LineModelParameters> = {};
  const rows: Record<string, LineFitRows> = {};
  for (const lineId of [...byLine.keys()].sort()) {
    const fitted = fitLine(byLine.get(lineId)!, settings);
    rows[lineId] = fitted.rows;
    if (fitted.parameters !== null) lines[lineId] = fitted.parameters;
  }
  return {
    createdAt: options.createdAt ?? new Date().toISOString(),
    trainedOn: options.trainedOn ?? { from: Number.isFinite(first) ? first : 0, to: Number.isFinite(last) ? last + 1 : 0 },
    lines,
    rows,
  };
}

interface LineFitSettings {
  modelOptions: VoltageModelOptions;
  windowSizeMs: number;
  minLoadSpanFraction: number;
  trimSigmas: number;
  warmupMs: number;
}

interface WindowSums {
  start: number;
  voltage: number;
  count: number;
  kw: number;
  kwCount: number;
  /** The model's load at the window's last reading: what the processor uses when no reading carried kW. */
  load: number;
}

function fitLine(readings: readonly ReadingEnvelope[], s: LineFitSettings): { parameters: LineModelParameters | null; rows: LineFitRows } {
  const rows: LineFitRows = { readings: readings.length, meters: 0, meterRows: 0, metersWithoutSlope: 0, readingRows: 0, windows: 0 };
  const settled = readings[0].eventTime + s.warmupMs;
  if (readings[readings.length - 1].eventTime < settled) return { parameters: null, rows };

  // 1. Meter offsets from the online feature pipeline.
  const deviations = new Map<string, { load: number[]; deviation: number[] }>();
  const online = new LineVoltageModel(s.modelOptions);
  for (const reading of readings) {
    const scored = scoreReading(online, reading);
    const learnable = !isOutlier(scored);
    online.learn(scored, learnable, learnable);
    online.follow(scored);
    if (reading.eventTime < settled) continue;
    let meter = deviations.get(scored.deviceId);
    if (meter === undefined) deviations.set(scored.deviceId, (meter = { load: [], deviation: [] }));
    meter.load.push(scored.loadKw);
    meter.deviation.push(scored.voltage - scored.lineLevel);
  }
  const meters: Record<string, [number, number]> = {};
  const meterResiduals: number[] = [];
  for (const deviceId of [...deviations.keys()].sort()) {
    const { load, deviation } = deviations.get(deviceId)!;
    const fit = fitMeterOffset(load, deviation, s);
    meters[deviceId] = fit.offset;
    rows.meterRows += fit.rows;
    if (!fit.slope) rows.metersWithoutSlope++;
    meterResiduals.push(fit.meanAbsResidual * fit.rows);
  }
  rows.meters = Object.keys(meters).length;

  // 2. Reading weights on the features the fitted offsets give, and the line's windows.
  const withOffsets = new LineVoltageModel(s.modelOptions);
  withOffsets.install({
    weights: priorWeights(),
    baseline: new Array<number>(BASELINE_FEATURE_COUNT).fill(0),
    meters,
    meanAbsResidual: sum(meterResiduals) / Math.max(1, rows.meterRows),
    baselineMeanAbsResidual: 0,
  });
  const x = new Float64Array(FEATURE_COUNT);
  const featureRows: number[][] = [];
  const voltages: number[] = [];
  const windows: WindowSums[] = [];
  let window: WindowSums | undefined;
  for (const reading of readings) {
    const scored = scoreReading(withOffsets, reading);
    // Offsets stay as fitted (meter: false); the weights learn only so the outlier test has a spread.
    withOffsets.learn(scored, false, !isOutlier(scored));
    withOffsets.follow(scored);
    const start = Math.floor(reading.eventTime / s.windowSizeMs) * s.windowSizeMs;
    if (window === undefined || window.start !== start) windows.push((window = { start, voltage: 0, count: 0, kw: 0, kwCount: 0, load: 0 }));
    window.voltage += scored.voltage;
    window.count++;
    const kw = reading.body.kw;
    if (typeof kw === 'number' && Number.isFinite(kw)) {
      window.kw += kw;
      window.kwCount++;
    }
    window.load = scored.loadKw;
    if (reading.eventTime < settled) continue;
    featureRows.push(Array.from(writeFeatures(x, scored.eventTime, scored.loadKw, scored.meterOffset, scored.lineLevel)));
    voltages.push(scored.voltage);
  }
  const reading = fitLeastSquares(featureRows, voltages, { prior: { weights: priorWeights(), variance: READING_PRIOR_VARIANCE }, trimSigmas: s.trimSigmas });
  rows.readingRows = reading.rows;

  // 3. The line baseline on the window means.
  const bx = new Float64Array(BASELINE_FEATURE_COUNT);
  const baselineRows = windows.map((w) => Array.from(writeBaselineFeatures(bx, w.start + s.windowSizeMs / 2, w.kwCount > 0 ? w.kw / w.kwCount : w.load)));
  const means = windows.map((w) => w.voltage / w.count);
  const baseline = fitLeastSquares(baselineRows, means, {
    prior: { weights: [sum(means) / means.length, 0, 0, 0, 0, 0], variance: BASELINE_PRIOR_VARIANCE },
    trimSigmas: s.trimSigmas,
  });
  rows.windows = baseline.rows;

  return {
    parameters: {
      weights: reading.weights,
      baseline: baseline.weights,
      meters,
      meanAbsResidual: reading.meanAbsResidual,
      baselineMeanAbsResidual: baseline.meanAbsResidual,
    },
    rows,
  };
}

function fitMeterOffset(load: number[], deviation: number[], s: LineFitSettings): { offset: [number, number]; slope: boolean; rows: number; meanAbsResidual: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const l of load) {
    if (l < min) min = l;
    if (l > max) max = l;
  }
  const meanDeviation = sum(deviation) / deviation.length;
  const meanLoad = sum(load) / load.length;
  if (load.length < 3 || !(max - min > s.minLoadSpanFraction * Math.abs(meanLoad))) {
    // The load did not vary: a slope would be a guess. Offset = the (trimmed) mean deviation.
    const fit = fitLeastSquares(
      deviation.map(() => [1]),
      deviation,
      { trimSigmas: s.trimSigmas },
    );
    return { offset: [fit.weights[0], 0], slope: false, rows: fit.rows, meanAbsResidual: fit.meanAbsResidual };
  }
  const fit = fitLeastSquares(
    load.map((l) => [1, l]),
    deviation,
    { prior: { weights: [meanDeviation, 0], variance: METER_PRIOR_VARIANCE }, trimSigmas: s.trimSigmas },
  );
  return { offset: [fit.weights[0], fit.weights[1]], slope: true, rows: fit.rows, meanAbsResidual: fit.meanAbsResidual };
}

function scoreReading(model: LineVoltageModel, reading: ReadingEnvelope): ScoredReading {
  const body = reading.body;
  return model.score(reading.deviceId ?? body.deviceId, reading.eventTime, body.voltage, typeof body.kw === 'number' ? body.kw : undefined);
}

/** The processor's own test: a reading this far off is not learned from. */
function isOutlier(scored: ScoredReading): boolean {
  return Math.abs(scored.score) > DEFAULT_DETECTION_OPTIONS.anomalyRaiseScore;
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}
