import type { AlertEnvelope, AlertSeverity } from '@meterstream/contracts';
import type { ScoredReading } from '../model/line-voltage-model';
import type { AlertBook, AlertEvidence, AlertSubject } from './alert-book';
import type { Hysteresis, HysteresisState } from './hysteresis';

/** Thresholds of the model-based detectors. Defaults in DEFAULT_DETECTION_OPTIONS. */
export interface ModelDetectionOptions {
  /** Residual anomaly: a reading is anomalous when |score| exceeds this. */
  anomalyRaiseScore: number;
  /** ...raised after this many anomalous readings among the meter's last `anomalyOf`. */
  anomalyRaiseCount: number;
  anomalyOf: number;
  /** ...cleared after `anomalyClearReadings` consecutive readings with |score| below this. */
  anomalyClearScore: number;
  anomalyClearReadings: number;
  /** Drift: EWMA weight of a residual in the meter's drift estimate. */
  driftAlpha: number;
  /** ...raised after `driftRaiseReadings` consecutive readings with |drift| above this (volts). */
  driftRaiseV: number;
  driftRaiseReadings: number;
  /** ...cleared after `driftClearReadings` consecutive readings with |drift| below this (volts). */
  driftClearV: number;
  driftClearReadings: number;
  /** A meter is scored once its offset model has learned from this many of its readings. */
  meterWarmupReadings: number;
  /** Line deviation: a line window departs from the baseline by more than max(this, score × spread) volts... */
  lineShiftV: number;
  lineRaiseScore: number;
  /** ...for this many consecutive line windows. */
  lineRaiseWindows: number;
  /** ...cleared after `lineClearWindows` windows within max(lineCalmV, 3 × spread). */
  lineCalmV: number;
  lineClearWindows: number;
  /** The baseline judges nothing before it has learned from this many windows. */
  baselineWarmupWindows: number;
  /** Line deviation beyond this many volts is critical. */
  lineCriticalV: number;
}

export const DEFAULT_DETECTION_OPTIONS: ModelDetectionOptions = {
  anomalyRaiseScore: 4,
  anomalyRaiseCount: 4,
  anomalyOf: 6,
  anomalyClearScore: 2,
  anomalyClearReadings: 8,
  driftAlpha: 0.05,
  driftRaiseV: 0.3,
  driftRaiseReadings: 6,
  driftClearV: 0.15,
  driftClearReadings: 12,
  meterWarmupReadings: 120,
  lineShiftV: 2,
  lineRaiseScore: 6,
  lineRaiseWindows: 2,
  lineCalmV: 1,
  lineClearWindows: 2,
  baselineWarmupWindows: 120,
  lineCriticalV: 6,
};

/** What a detector judges: one event about one subject, with the times its alert events carry. */
export interface DetectorObservation {
  subject: AlertSubject;
  eventTime: number;
  ingestTime: number;
  /** The published model version in use (0: learned online only); named in the evidence. */
  modelVersion: number;
}

/** One scored reading of a meter, as the meter detectors see it. */
export interface MeterObservation extends DetectorObservation {
  subject: { lineId: string; deviceId: string };
  scored: ScoredReading;
  /** The event time of the oldest of the meter's last `anomalyOf` scored readings: where the evidence starts. */
  since: number;
}

/**
 * A detector on the voltage model: what breaches and what is calm, in the detector's own signal,
 * and how its alert reads. runDetector does the rest, the same for every detector: hysteresis,
 * then the raise or clear in the alert book. `State` is the detector's state per subject, its
 * hysteresis included.
 */
export interface ModelDetector<Observation extends DetectorObservation, State extends HysteresisState = HysteresisState> {
  readonly kind: string;
  readonly hysteresis: Hysteresis;
  /** Folds the observation into a signal the detector keeps in `state`, if it keeps one; runs first. */
  update?(observation: Observation, state: State): void;
  breaching(observation: Observation, state: State): boolean;
  calm(observation: Observation, state: State): boolean;
  severity(observation: Observation, state: State): AlertSeverity;
  raisedMessage(observation: Observation, state: State): string;
  clearedMessage(observation: Observation, state: State): string;
  evidence(observation: Observation, state: State): AlertEvidence;
}

/**
 * Feeds one observation to a detector and raises or clears its alert in `book` when the
 * hysteresis says so; while the alert is open, a breaching observation of a higher severity
 * escalates it (the same alert, an `escalated` event).
 */
export function runDetector<Observation extends DetectorObservation, State extends HysteresisState>(
  detector: ModelDetector<Observation, State>,
  state: State,
  observation: Observation,
  book: AlertBook,
  emit: (alert: AlertEnvelope) => void,
): void {
  detector.update?.(observation, state);
  const change = detector.hysteresis.observe(state, detector.breaching(observation, state), detector.calm(observation, state));
  const { subject, eventTime, ingestTime } = observation;
  if (change === 'raise') {
    book.raise(
      subject,
      detector.kind,
      detector.severity(observation, state),
      detector.raisedMessage(observation, state),
      detector.evidence(observation, state),
      eventTime,
      ingestTime,
      emit,
    );
  } else if (change === 'clear') {
    book.clear(subject, detector.kind, detector.clearedMessage(observation, state), detector.evidence(observation, state), eventTime, ingestTime, emit);
  } else if (state.open && detector.breaching(observation, state)) {
    const open = book.get(subject, detector.kind);
    const severity = detector.severity(observation, state);
    if (open !== undefined && severity !== open.severity) {
      book.escalate(subject, detector.kind, severity, detector.raisedMessage(observation, state), detector.evidence(observation, state), eventTime, ingestTime, emit);
    }
  }
}

export function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

export function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
