import { isRaise, parseReading, type AlertBody, type ReadingEnvelope } from '@meterstream/contracts';
import {
  StreamTopology,
  createAlertRules,
  resolveProcessorOptions,
  type ModelDetectionOptions,
  type ProcessorOptions,
  type ScoredReading,
} from '@meterstream/processing';
import { faultLabels, generateMessages, type FaultLabel } from '@meterstream/simulator';
import { partitionForKey } from '@meterstream/stream';
import { scoreAlerts, type DetectionScore, type FaultKind, type TruthFault } from './score-alerts';

export interface EvaluationOptions {
  seed: number;
  lines: number;
  metersPerLine: number;
  intervalMs: number;
  /** Simulated start (epoch ms). */
  start: number;
  /** The first days train the model: their faults and alerts are not scored. */
  trainingDays: number;
  /** Scored days after training. */
  days: number;
  partitions: number;
  graceMs: number;
  detection?: Partial<ModelDetectionOptions>;
  /** Told every simulated hour; for a progress line. */
  onProgress?: (progress: { simulatedMs: number; totalMs: number; readings: number }) => void;
}

export interface RuleSetResult {
  name: string;
  score: DetectionScore;
}

export interface EvaluationResult {
  options: Omit<EvaluationOptions, 'onProgress' | 'detection'>;
  readings: number;
  faults: number;
  /** Mean absolute error of the model's a-priori predictions on fault-free readings in the scored days (V). */
  modelMae: number;
  maeReadings: number;
  /** The same for the baseline's prediction (the line's mean voltage). */
  baselineMae: number;
  meterstream: RuleSetResult;
  baseline: RuleSetResult;
}

const DAY_MS = 86_400_000;
/** Readings of a faulty subject stay out of the MAE until this long after the fault ended. */
const SETTLE_MS = 15 * 60_000;

/**
 * The detection evaluation: the simulator's demo profile (one fault of each kind per simulated day,
 * labelled) runs through the ingest contract (parseReading) into two processing topologies in
 * the same pass — meterstream's rules and the original fixed-variance baseline — partitioned by
 * line as the bridge does; the raised alerts are scored against the labels.
 */
export function runEvaluation(options: EvaluationOptions): EvaluationResult {
  const totalMs = (options.trainingDays + options.days) * DAY_MS;
  const simulation = {
    seed: options.seed,
    lines: options.lines,
    metersPerLine: options.metersPerLine,
    intervalMs: options.intervalMs,
    start: options.start,
    durationMs: totalMs,
    faults: 'demo' as const,
  };
  const labels = faultLabels(simulation).map(toTruth);
  const scoredFrom = options.start + options.trainingDays * DAY_MS;

  const processor: ProcessorOptions = { windowSizeMs: 60_000, outOfOrdernessMs: 10_000, allowedLatenessMs: 0, idleTimeoutMs: Infinity };
  const resolved = resolveProcessorOptions(processor);
  const faultyUntil = faultFreeIndex(labels);
  let maeSum = 0;
  let maeCount = 0;
  let baselineSum = 0;
  const lineMeans = new Map<string, [number, number]>();
  const observeModel = (reading: ReadingEnvelope, scored: ScoredReading) => {
    let mean = lineMeans.get(reading.lineId);
    if (mean === undefined) lineMeans.set(reading.lineId, (mean = [0, reading.body.voltage]));
    const baselinePrediction = mean[1];
    mean[0]++;
    mean[1] += (reading.body.voltage - mean[1]) / mean[0];
    if (reading.eventTime < scoredFrom || faultyUntil(reading)) return;
    maeSum += Math.abs(scored.residual);
    baselineSum += Math.abs(reading.body.voltage - baselinePrediction);
    maeCount++;
  };
  const meterstream = new StreamTopology(processor, undefined, createAlertRules(resolved, 'meterstream', { detection: options.detection, observeModel }));
  const baseline = new StreamTopology(processor, undefined, createAlertRules(resolved, 'fixed-variance'));
  const raised = { meterstream: [] as AlertBody[], baseline: [] as AlertBody[] };
  const collect = (topology: StreamTopology, into: AlertBody[]) => {
    const { alerts } = topology.takeOutput();
    for (const alert of alerts) if (isRaise(alert.body)) into.push(alert.body);
  };

  let readings = 0;
  let nextProgress = options.start + 3_600_000;
  const partitionOf = new Map<string, string>();
  for (const message of generateMessages(simulation)) {
    if (!message.valid) continue;
    const parsed = parseReading(message.topic, message.payload, { ingestTime: message.simTime, maxFutureSkewMs: 1e12 });
    if (!parsed.ok) continue;
    const reading: ReadingEnvelope = parsed.envelope;
    let partition = partitionOf.get(reading.lineId);
    if (partition === undefined) partitionOf.set(reading.lineId, (partition = String(partitionForKey(reading.lineId, options.partitions))));
    meterstream.process(partition, reading, message.simTime);
    baseline.process(partition, reading, message.simTime);
    readings++;
    if ((readings & 0x3ff) === 0) {
      collect(meterstream, raised.meterstream);
      collect(baseline, raised.baseline);
    }
    if (message.simTime >= nextProgress) {
      options.onProgress?.({ simulatedMs: message.simTime - options.start, totalMs, readings });
      nextProgress += 3_600_000;
    }
  }
  collect(meterstream, raised.meterstream);
  collect(baseline, raised.baseline);

  const scoring = { from: scoredFrom, to: options.start + totalMs, graceMs: options.graceMs, lines: options.lines };
  const { onProgress: _p, detection: _d, ...plain } = options;
  return {
    options: plain,
    readings,
    faults: labels.filter((f) => f.start >= scoredFrom).length,
    modelMae: maeCount === 0 ? NaN : maeSum / maeCount,
    baselineMae: maeCount === 0 ? NaN : baselineSum / maeCount,
    maeReadings: maeCount,
    meterstream: { name: 'meterstream', score: scoreAlerts(raised.meterstream, labels, scoring) },
    baseline: { name: 'fixed-variance (original)', score: scoreAlerts(raised.baseline, labels, scoring) },
  };
}

function toTruth(label: FaultLabel): TruthFault {
  return {
    kind: label.kind as FaultKind,
    lineId: label.lineId,
    ...(label.deviceId === undefined ? {} : { deviceId: label.deviceId }),
    start: Date.parse(label.start),
    end: Date.parse(label.end),
  };
}

/** A predicate: is this reading's subject inside a fault (or settling after one)? */
function faultFreeIndex(faults: readonly TruthFault[]): (reading: ReadingEnvelope) => boolean {
  const byLine = new Map<string, TruthFault[]>();
  for (const f of faults) {
    const list = byLine.get(f.lineId);
    if (list) list.push(f);
    else byLine.set(f.lineId, [f]);
  }
  return (reading) => {
    const list = byLine.get(reading.lineId);
    if (list === undefined) return false;
    const t = reading.eventTime;
    for (const f of list) {
      if (t < f.start || t >= f.end + SETTLE_MS) continue;
      if (f.deviceId === undefined || f.deviceId === reading.deviceId) return true;
    }
    return false;
  };
}
