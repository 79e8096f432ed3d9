import type { AlertBody } from '@meterstream/contracts';

/** A ground-truth fault interval (the simulator's FaultLabel with times in epoch ms). */
export interface TruthFault {
  kind: FaultKind;
  lineId: string;
  deviceId?: string;
  start: number;
  end: number;
}

export type FaultKind = 'sag' | 'swell' | 'failed-regulator' | 'stuck' | 'drift';
export const FAULT_KINDS: readonly FaultKind[] = ['sag', 'swell', 'failed-regulator', 'stuck', 'drift'];
const LINE_FAULTS: ReadonlySet<FaultKind> = new Set(['sag', 'swell', 'failed-regulator']);

/**
 * Which fault kinds an alert kind is meant to catch: a false alarm of that alert kind counts
 * against the precision of each. (An alert that does match a fault counts for that fault's kind,
 * whatever its own kind: a drift caught by the residual-anomaly rule is caught.)
 */
export const ALERT_KIND_TARGETS: Record<string, readonly FaultKind[]> = {
  'voltage-low': ['sag', 'failed-regulator'],
  'voltage-high': ['swell'],
  'line-voltage-deviation': ['sag', 'swell', 'failed-regulator'],
  'voltage-anomaly': ['stuck', 'drift'],
  'meter-drift': ['drift'],
  'meter-stuck': ['stuck'],
  'meter-stale': [],
  // A meter's clock running ahead of its line: a data-quality fault no simulated voltage fault is,
  // so (like meter-stale) a meter-clock alert matching no fault is a false alarm of no kind in particular.
  'meter-clock': [],
  'fixed-variance': FAULT_KINDS,
};

export interface ScoringOptions {
  /** Only faults starting and alerts raised in [from, to) are scored (epoch ms). */
  from: number;
  to: number;
  /** An alert raised up to this long after a fault ended still counts as detecting it. */
  graceMs: number;
  lines: number;
}

export interface KindScore {
  kind: FaultKind;
  faults: number;
  detected: number;
  /** Alerts matched to faults of this kind. */
  truePositives: number;
  /** False alarms of the alert kinds meant to catch this kind. */
  falseAlarms: number;
  precision: number;
  recall: number;
  f1: number;
  /** Median over detected faults of (end of the first matching alert's evidence span − fault start), ms; null when none detected. */
  medianDelayMs: number | null;
}

export interface DetectionScore {
  kinds: KindScore[];
  alerts: number;
  falseAlarms: number;
  falseAlarmsPerLinePerDay: number;
  /** Alert kinds of the false alarms, for diagnosis. */
  falseAlarmKinds: Record<string, number>;
}

/**
 * Scores raised alerts against ground truth. An alert matches a fault when it concerns the
 * fault's subject — any alert on the line for a line fault; an alert on that meter for a meter
 * fault — and what it saw overlaps the fault: its evidence span (a window's [start, end), or the
 * readings it judged) ends after the fault started, and it was raised before the fault's end plus
 * the grace period. (A window rule raises at its window's start, which can precede the fault's
 * first second.) An alert matching no fault is a false alarm.
 */
export function scoreAlerts(raised: readonly AlertBody[], faults: readonly TruthFault[], options: ScoringOptions): DetectionScore {
  const inScope = (t: number) => t >= options.from && t < options.to;
  const scoredFaults = faults.filter((f) => inScope(f.start));
  const firstDetection = new Map<TruthFault, number>();
  const truePositives = new Map<FaultKind, number>();
  const falseAlarms = new Map<FaultKind, number>();
  const falseAlarmKinds: Record<string, number> = {};
  let alerts = 0;
  let totalFalse = 0;
  for (const alert of raised) {
    if (!inScope(alert.raisedAt)) continue;
    alerts++;
    const seenUntil = Math.max(alert.raisedAt, alert.evidence.windowEnd);
    const matches = (f: TruthFault) =>
      f.lineId === alert.lineId && (LINE_FAULTS.has(f.kind) || f.deviceId === alert.deviceId) && seenUntil > f.start && alert.raisedAt < f.end + options.graceMs;
    const match = scoredFaults.find(matches) ?? faults.find(matches);
    if (match !== undefined) {
      if (!scoredFaults.includes(match)) continue; // about a fault before the scored range: neither right nor wrong here
      truePositives.set(match.kind, (truePositives.get(match.kind) ?? 0) + 1);
      // Detected when the evidence was complete (a window rule knows at its window's end).
      const first = firstDetection.get(match);
      if (first === undefined || seenUntil < first) firstDetection.set(match, seenUntil);
      continue;
    }
    totalFalse++;
    falseAlarmKinds[alert.kind] = (falseAlarmKinds[alert.kind] ?? 0) + 1;
    for (const kind of ALERT_KIND_TARGETS[alert.kind] ?? FAULT_KINDS) falseAlarms.set(kind, (falseAlarms.get(kind) ?? 0) + 1);
  }
  const kinds = FAULT_KINDS.map((kind): KindScore => {
    const ofKind = scoredFaults.filter((f) => f.kind === kind);
    const delays = ofKind.filter((f) => firstDetection.has(f)).map((f) => firstDetection.get(f)! - f.start);
    const tp = truePositives.get(kind) ?? 0;
    const fa = falseAlarms.get(kind) ?? 0;
    const precision = tp + fa === 0 ? (ofKind.length === 0 ? 1 : 0) : tp / (tp + fa);
    const recall = ofKind.length === 0 ? 1 : delays.length / ofKind.length;
    return {
      kind,
      faults: ofKind.length,
      detected: delays.length,
      truePositives: tp,
      falseAlarms: fa,
      precision,
      recall,
      f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
      medianDelayMs: median(delays),
    };
  });
  const days = (options.to - options.from) / 86_400_000;
  return { kinds, alerts, falseAlarms: totalFalse, falseAlarmsPerLinePerDay: totalFalse / options.lines / days, falseAlarmKinds };
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
