import { parseReading } from '@meterstream/contracts';
import { analyseFleet, CvrDailyAccumulator, type CvrOptions, type LineCvrReport } from '@meterstream/cvr';
import { generateRun, type CvrSimulationSpec, type CvrTruth } from '@meterstream/simulator';

export interface CvrEvaluationOptions {
  seed: number;
  lines: number;
  metersPerLine: number;
  intervalMs: number;
  /** Simulated start (epoch ms): local midnight of the first scheduled day is best. */
  start: number;
  days: number;
  timeZone: string;
  /** The simulated programme (default: factors 0.4–1.1, reductions 2–4 %). */
  cvr?: Omit<CvrSimulationSpec, 'timeZone'>;
  analysis?: Partial<CvrOptions>;
  /** Acceptance: largest allowed |estimated − true| factor. */
  factorTolerance: number;
  /** Acceptance: largest allowed relative error of kWh saved. */
  savingsTolerance: number;
  /** Told every simulated day. */
  onProgress?: (progress: { day: number; days: number; readings: number }) => void;
}

export interface CvrLineEvaluation {
  lineId: string;
  trueFactor: number;
  /** null when the factor was refused. */
  estimatedFactor: number | null;
  interval: [number, number] | null;
  factorError: number | null;
  intervalContainsTruth: boolean;
  trueSavedKwh: number;
  estimatedSavedKwh: number | null;
  savedInterval: [number, number] | null;
  savingsRelativeError: number | null;
  recommendedReductionV: number;
  /** The lowest reading on the normal days minus the recommended reduction: what the worst meter would have seen. */
  lowestAfterReductionV: number;
  keepsEveryMeterAbove114: boolean;
  refusal?: string;
}

export interface CvrEvaluationResult {
  readings: number;
  lines: CvrLineEvaluation[];
  acceptance: {
    factorsWithinTolerance: number;
    intervalsContainingTruth: number;
    savingsWithinTolerance: number;
    setpointsKeepingRangeA: number;
    lines: number;
    passed: boolean;
  };
  truth: CvrTruth;
  reports: LineCvrReport[];
}

const DAY_MS = 86_400_000;
const RANGE_A_MIN_V = 114;

/**
 * The CVR evaluation: the simulator runs a CVR programme (ZIP loads with known factors, weather,
 * a randomised block schedule) and its messages go through the ingest contract (parseReading)
 * into the CVR daily figures and the estimators — the same path the processor's figures take —
 * then every line's estimate is compared with the simulator's truth: the configured factor and
 * the counterfactual kWh saved (the same days at the normal setpoint).
 *
 * The acceptance the issue sets: every factor within ±tolerance, the interval containing the
 * truth on all lines but at most one (7 of 8), kWh saved within savingsTolerance, and the
 * recommended setpoint keeping every meter ≥ 114 V on the data it came from.
 */
export function runCvrEvaluation(options: CvrEvaluationOptions): CvrEvaluationResult {
  const { messages, cvr } = generateRun({
    seed: options.seed,
    lines: options.lines,
    metersPerLine: options.metersPerLine,
    intervalMs: options.intervalMs,
    start: options.start,
    durationMs: options.days * DAY_MS,
    faults: 'none',
    cvr: { ...options.cvr, timeZone: options.timeZone, scheduleStart: options.cvr?.scheduleStart ?? options.start },
  });
  const accumulator = new CvrDailyAccumulator(options.timeZone);
  let readings = 0;
  let nextDay = options.start + DAY_MS;
  for (const message of messages) {
    const parsed = parseReading(message.topic, message.payload, { ingestTime: message.simTime, maxFutureSkewMs: 1e12 });
    if (!parsed.ok) continue;
    const { body } = parsed.envelope;
    accumulator.add({ lineId: body.lineId, deviceId: body.deviceId, eventTime: parsed.envelope.eventTime, voltage: body.voltage, kw: body.kw, kwh: body.kwh });
    readings++;
    if (message.simTime >= nextDay) {
      options.onProgress?.({ day: Math.round((nextDay - options.start) / DAY_MS), days: options.days, readings });
      nextDay += DAY_MS;
    }
  }
  options.onProgress?.({ day: options.days, days: options.days, readings });
  const truth = cvr!.truth();
  const reports = analyseFleet(accumulator.figures(), { ...options.analysis });
  const lines = reports.map((report) => judge(report, truth));
  const allowedMisses = Math.floor(lines.length / 8); // 7 of 8
  const acceptance = {
    factorsWithinTolerance: lines.filter((l) => l.factorError !== null && Math.abs(l.factorError) <= options.factorTolerance).length,
    intervalsContainingTruth: lines.filter((l) => l.intervalContainsTruth).length,
    savingsWithinTolerance: lines.filter((l) => l.savingsRelativeError !== null && Math.abs(l.savingsRelativeError) <= options.savingsTolerance).length,
    setpointsKeepingRangeA: lines.filter((l) => l.keepsEveryMeterAbove114).length,
    lines: lines.length,
    passed: false,
  };
  acceptance.passed =
    acceptance.factorsWithinTolerance === lines.length &&
    acceptance.intervalsContainingTruth >= lines.length - allowedMisses &&
    acceptance.savingsWithinTolerance === lines.length &&
    acceptance.setpointsKeepingRangeA === lines.length;
  return { readings, lines, acceptance, truth, reports };
}

function judge(report: LineCvrReport, truth: CvrTruth): CvrLineEvaluation {
  const line = truth.lines.find((l) => l.lineId === report.lineId);
  if (!line) throw new Error(`the simulator has no truth for line ${report.lineId}`);
  const normal = report.daily.filter((d) => d.kind === 'normal');
  const lowest = Math.min(...normal.map((d) => d.minVoltage));
  const lowestAfterReductionV = lowest - report.headroom.recommendedReductionV;
  const base = {
    lineId: report.lineId,
    trueFactor: line.trueFactor,
    trueSavedKwh: line.savedKwh,
    recommendedReductionV: report.headroom.recommendedReductionV,
    lowestAfterReductionV,
    keepsEveryMeterAbove114: lowestAfterReductionV >= RANGE_A_MIN_V,
  };
  if (report.factor.status === 'refused') {
    return { ...base, estimatedFactor: null, interval: null, factorError: null, intervalContainsTruth: false, estimatedSavedKwh: null, savedInterval: null, savingsRelativeError: null, refusal: report.factor.reason };
  }
  const { factor, interval } = report.factor;
  const saved = report.savings!;
  return {
    ...base,
    estimatedFactor: factor,
    interval,
    factorError: factor - line.trueFactor,
    intervalContainsTruth: interval[0] <= line.trueFactor && line.trueFactor <= interval[1],
    estimatedSavedKwh: saved.kwh,
    savedInterval: saved.interval,
    savingsRelativeError: line.savedKwh > 0 ? (saved.kwh - line.savedKwh) / line.savedKwh : null,
  };
}
