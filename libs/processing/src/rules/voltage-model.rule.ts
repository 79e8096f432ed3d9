import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { DEFAULT_MODEL_OPTIONS, LineVoltageModel, type LineVoltageModelSnapshot, type ScoredReading, type VoltageModelOptions } from '../model/line-voltage-model';
import type { VoltageModelVersion } from '../model/model-version';
import { formatVolts } from './alert-envelope';
import { AlertBook, type OpenAlert } from './alert-book';
import type { AlertRule } from './rule';

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

export const MODEL_ALERT_KINDS = {
  anomaly: 'voltage-anomaly',
  drift: 'meter-drift',
  line: 'line-voltage-deviation',
} as const;

/** Per-meter detector state (the model's own state lives in LineVoltageModel). */
interface MeterDetector {
  /** Bit i set: the i-th most recent scored reading was anomalous. */
  flags: number;
  calm: number;
  drift: number;
  driftHigh: number;
  driftCalm: number;
  /** Event times of the last `anomalyOf` scored readings, a ring: times[head] is the oldest (evidence span). */
  times: number[];
  head: number;
  /** Whether this meter's voltage-anomaly / meter-drift alert is open (mirrors the alert book, without building its key per reading). */
  anomalyOpen: boolean;
  driftOpen: boolean;
  /** The range of line load the meter's offset model has seen: its load slope means nothing before the load has moved. */
  minLoad: number;
  maxLoad: number;
}

interface LineState {
  model: LineVoltageModel;
  meters: Map<string, MeterDetector>;
  /** EWMA of |residual| over the line's readings: high when the whole line moved at once. */
  shock: number;
  deviating: number;
  calmWindows: number;
}

export interface VoltageModelRuleState {
  modelVersion: number;
  open: OpenAlert[];
  lines: Array<{
    lineId: string;
    model: LineVoltageModelSnapshot;
    shock: number;
    deviating: number;
    calmWindows: number;
    meters: Array<[string, MeterDetector]>;
  }>;
}

/** Readings whose line moves this much faster than its spread are part of a line-wide event, not a meter's. */
const SHOCK_ALPHA = 0.05;
const SHOCK_SPREADS = 4;
const SHOCK_MIN_V = 1;

/**
 * The online voltage model per line and the detectors that read its residuals:
 *
 * - `voltage-anomaly` (per meter): residual = actual − predicted, scored by the line's robust
 *   spread; raised after anomalyRaiseCount of the meter's last anomalyOf readings score above
 *   anomalyRaiseScore, cleared after anomalyClearReadings consecutive readings below anomalyClearScore;
 * - `meter-drift` (per meter): an EWMA of the meter's residual that keeps one side of zero — slow
 *   sensor drift that no single reading shows;
 * - `line-voltage-deviation` (per line): fired line windows against the line baseline (hour and
 *   load, not the recent level): a regulator stuck taps low, a failed capacitor bank.
 *
 * What looks faulty is not learned: a suspect meter leaves its offset model and the line level
 * alone; a line-wide jump (a sag, a tap change) pauses meter scoring until the level has caught up.
 */
export class VoltageModelRule implements AlertRule {
  readonly name = 'voltage-model';
  private readonly lines = new Map<string, LineState>();
  private readonly book = new AlertBook();
  private modelVersion = 0;
  private readonly detection: ModelDetectionOptions;

  /**
   * @param observe sees every reading with its score before the model learns from it (the
   *   evaluation measures the model's error with it); must not throw.
   */
  constructor(
    detection: Partial<ModelDetectionOptions> = {},
    private readonly modelOptions: VoltageModelOptions = DEFAULT_MODEL_OPTIONS,
    private readonly observe?: (reading: ReadingEnvelope, scored: ScoredReading) => void,
  ) {
    this.detection = { ...DEFAULT_DETECTION_OPTIONS, ...detection };
    if (this.detection.anomalyOf > 30 || this.detection.anomalyRaiseCount > this.detection.anomalyOf) {
      throw new RangeError('VoltageModelRule: need anomalyRaiseCount <= anomalyOf <= 30');
    }
  }

  onReading(reading: ReadingEnvelope, emit: (alert: AlertEnvelope) => void): void {
    const line = this.line(reading.lineId);
    const body = reading.body;
    const deviceId = reading.deviceId ?? body.deviceId;
    const scored = line.model.score(deviceId, reading.eventTime, body.voltage, typeof body.kw === 'number' ? body.kw : undefined);
    const d = this.detection;
    this.observe?.(reading, scored);

    line.shock += SHOCK_ALPHA * (Math.abs(scored.residual) - line.shock);
    const shocked = line.shock > Math.max(SHOCK_MIN_V, SHOCK_SPREADS * scored.spread);
    let meter = line.meters.get(deviceId);
    if (meter === undefined) {
      meter = { flags: 0, calm: 0, drift: 0, driftHigh: 0, driftCalm: 0, times: [], head: 0, anomalyOpen: false, driftOpen: false, minLoad: scored.loadKw, maxLoad: scored.loadKw };
      line.meters.set(deviceId, meter);
    }
    const subject = { lineId: reading.lineId, deviceId };
    if (scored.loadKw < meter.minLoad) meter.minLoad = scored.loadKw;
    if (scored.loadKw > meter.maxLoad) meter.maxLoad = scored.loadKw;
    const scoring = !shocked && this.calibrated(meter, scored.meterReadings);
    if (scoring) {
      this.anomaly(reading, scored, meter, subject, emit);
      this.driftCheck(reading, scored, meter, subject, emit);
    }
    // Only an open alert makes a meter suspect: freezing on a mere hint of drift would stop a
    // young model from ever learning its load slope.
    const suspect = meter.anomalyOpen || meter.driftOpen;
    const outlier = Math.abs(scored.score) > d.anomalyRaiseScore;
    const learnable = !suspect && !shocked && !outlier;
    line.model.learn(scored, learnable, learnable);
    if (!suspect) line.model.follow(scored);
  }

  onAggregate(aggregate: AggregateEnvelope, emit: (alert: AlertEnvelope) => void): void {
    const body = aggregate.body;
    if (body.deviceId !== undefined) return;
    const line = this.line(body.lineId);
    const mid = (body.windowStart + body.windowEnd) / 2;
    const kw = body.kw?.mean;
    const scored = line.model.scoreWindow(mid, body.voltage.mean, kw);
    const d = this.detection;
    const subject = { lineId: body.lineId };
    const kind = MODEL_ALERT_KINDS.line;
    const threshold = Math.max(d.lineShiftV, d.lineRaiseScore * scored.spread);
    const calmBand = Math.max(d.lineCalmV, 3 * scored.spread);
    const open = this.book.isOpen(subject, kind);
    const deviating = Math.abs(scored.residual) > threshold;
    const evidence = {
      value: body.voltage.mean,
      expected: round3(scored.expected),
      threshold: round3(threshold),
      score: round3(scored.score),
      modelVersion: this.modelVersion,
      windowStart: body.windowStart,
      windowEnd: body.windowEnd,
    };
    if (open) {
      if (Math.abs(scored.residual) < calmBand) {
        if (++line.calmWindows >= d.lineClearWindows) {
          line.calmWindows = 0;
          this.book.clear(
            subject,
            kind,
            `Line ${body.lineId} back within ${formatVolts(round1(calmBand))} of the model's expectation for ${d.lineClearWindows} windows (mean ${formatVolts(round1(body.voltage.mean))}, expected ${formatVolts(round1(scored.expected))})`,
            evidence,
            body.windowStart,
            aggregate.ingestTime,
            emit,
          );
        }
      } else line.calmWindows = 0;
      return;
    }
    if (deviating && scored.baselineWindows >= d.baselineWarmupWindows) {
      if (++line.deviating >= d.lineRaiseWindows) {
        line.deviating = 0;
        line.calmWindows = 0;
        const below = scored.residual < 0;
        this.book.raise(
          subject,
          kind,
          Math.abs(scored.residual) >= d.lineCriticalV ? 'critical' : 'warning',
          `Line ${body.lineId} voltage ${formatVolts(round1(Math.abs(scored.residual)))} ${below ? 'below' : 'above'} what the model expects at this hour and load ` +
            `(mean ${formatVolts(round1(body.voltage.mean))}, expected ${formatVolts(round1(scored.expected))}) for ${d.lineRaiseWindows} windows: ` +
            (below ? 'a regulator or capacitor bank may have failed' : 'check the regulator setting and capacitor banks'),
          evidence,
          body.windowStart,
          aggregate.ingestTime,
          emit,
        );
      }
      return;
    }
    line.deviating = 0;
    line.model.learnWindow(mid, kw, scored);
  }

  installModel(model: VoltageModelVersion): void {
    for (const [lineId, parameters] of Object.entries(model.lines)) this.line(lineId).model.install(parameters);
    this.modelVersion = model.version;
  }

  get version(): number {
    return this.modelVersion;
  }

  /** The model of a line, for the retrain tool and tests; undefined before the line's first reading. */
  lineModel(lineId: string): LineVoltageModel | undefined {
    return this.lines.get(lineId)?.model;
  }

  openAlerts(): OpenAlert[] {
    return this.book.list();
  }

  snapshot(): VoltageModelRuleState {
    return {
      modelVersion: this.modelVersion,
      open: this.book.snapshot(),
      lines: [...this.lines].map(([lineId, l]) => ({
        lineId,
        model: l.model.snapshot(),
        shock: l.shock,
        deviating: l.deviating,
        calmWindows: l.calmWindows,
        meters: [...l.meters].map(([id, m]) => [id, { ...m, times: [...m.times] }] as [string, MeterDetector]),
      })),
    };
  }

  restore(state: unknown): void {
    const s = state as VoltageModelRuleState;
    this.modelVersion = s.modelVersion;
    this.book.restore(s.open);
    this.lines.clear();
    for (const l of s.lines) {
      this.lines.set(l.lineId, {
        model: LineVoltageModel.restore(l.model, this.modelOptions),
        shock: l.shock,
        deviating: l.deviating,
        calmWindows: l.calmWindows,
        meters: new Map(l.meters.map(([id, m]) => [id, { ...m, times: [...m.times] }])),
      });
    }
  }

  /**
   * A meter is judged once its offset model has learned from meterWarmupReadings readings over a
   * load range of at least a quarter of the highest load seen (a flat-load feeder: after ten times
   * the warm-up), so a model that has not yet seen the evening peak does not cry drift at it.
   */
  private calibrated(meter: MeterDetector, readings: number): boolean {
    const warmup = this.detection.meterWarmupReadings;
    if (readings < warmup) return false;
    return readings >= 10 * warmup || meter.maxLoad - meter.minLoad >= 0.25 * meter.maxLoad;
  }

  private line(lineId: string): LineState {
    let line = this.lines.get(lineId);
    if (line === undefined) {
      line = { model: new LineVoltageModel(this.modelOptions), meters: new Map(), shock: 0, deviating: 0, calmWindows: 0 };
      this.lines.set(lineId, line);
    }
    return line;
  }

  private anomalyEvidence(scored: ScoredReading, meter: MeterDetector, eventTime: number) {
    return {
      value: scored.voltage,
      expected: round3(scored.predicted),
      threshold: round3(this.detection.anomalyRaiseScore * scored.spread),
      score: round3(scored.score),
      modelVersion: this.modelVersion,
      windowStart: oldest(meter, eventTime),
      windowEnd: eventTime,
    };
  }

  private driftEvidence(scored: ScoredReading, meter: MeterDetector, eventTime: number) {
    return {
      value: round3(meter.drift),
      expected: 0,
      threshold: this.detection.driftRaiseV,
      score: round3(meter.drift / scored.spread),
      modelVersion: this.modelVersion,
      windowStart: oldest(meter, eventTime),
      windowEnd: eventTime,
      voltage: scored.voltage,
    };
  }

  private anomaly(reading: ReadingEnvelope, scored: ScoredReading, meter: MeterDetector, subject: { lineId: string; deviceId: string }, emit: (alert: AlertEnvelope) => void): void {
    const d = this.detection;
    const mask = (1 << d.anomalyOf) - 1;
    const anomalous = Math.abs(scored.score) > d.anomalyRaiseScore;
    meter.flags = ((meter.flags << 1) | (anomalous ? 1 : 0)) & mask;
    if (meter.times.length < d.anomalyOf) meter.times.push(reading.eventTime);
    else {
      meter.times[meter.head] = reading.eventTime;
      meter.head = (meter.head + 1) % d.anomalyOf;
    }
    const kind = MODEL_ALERT_KINDS.anomaly;
    if (meter.anomalyOpen) {
      if (Math.abs(scored.score) < d.anomalyClearScore) {
        if (++meter.calm >= d.anomalyClearReadings) {
          meter.calm = 0;
          meter.anomalyOpen = false;
          this.book.clear(
            subject,
            kind,
            `Meter ${subject.deviceId} on line ${subject.lineId} back in line with the model for ${d.anomalyClearReadings} readings (${formatVolts(scored.voltage)}, expected ${formatVolts(round1(scored.predicted))})`,
            this.anomalyEvidence(scored, meter, reading.eventTime),
            reading.eventTime,
            reading.ingestTime,
            emit,
          );
        }
      } else meter.calm = 0;
      return;
    }
    if (popcount(meter.flags) >= d.anomalyRaiseCount) {
      meter.calm = 0;
      meter.flags = 0;
      meter.anomalyOpen = true;
      const direction = scored.residual < 0 ? 'below' : 'above';
      this.book.raise(
        subject,
        kind,
        'warning',
        `Meter ${subject.deviceId} on line ${subject.lineId} reads ${formatVolts(round1(Math.abs(scored.residual)))} ${direction} the model's expectation ` +
          `(${formatVolts(scored.voltage)} vs ${formatVolts(round1(scored.predicted))}, score ${round1(scored.score)}) in ${d.anomalyRaiseCount} of its last ${d.anomalyOf} readings`,
        this.anomalyEvidence(scored, meter, reading.eventTime),
        reading.eventTime,
        reading.ingestTime,
        emit,
      );
    }
  }

  private driftCheck(reading: ReadingEnvelope, scored: ScoredReading, meter: MeterDetector, subject: { lineId: string; deviceId: string }, emit: (alert: AlertEnvelope) => void): void {
    const d = this.detection;
    // Winsorised: one wild reading (a step the shock guard has not caught yet) must not look like drift.
    const limit = d.anomalyRaiseScore * scored.spread;
    meter.drift += d.driftAlpha * (Math.max(-limit, Math.min(limit, scored.residual)) - meter.drift);
    const kind = MODEL_ALERT_KINDS.drift;
    if (meter.driftOpen) {
      if (Math.abs(meter.drift) < d.driftClearV) {
        if (++meter.driftCalm >= d.driftClearReadings) {
          meter.driftCalm = 0;
          meter.driftOpen = false;
          this.book.clear(
            subject,
            kind,
            `Meter ${subject.deviceId} on line ${subject.lineId} no longer drifting: its readings are back within ${formatVolts(d.driftClearV)} of the model`,
            this.driftEvidence(scored, meter, reading.eventTime),
            reading.eventTime,
            reading.ingestTime,
            emit,
          );
        }
      } else meter.driftCalm = 0;
      return;
    }
    if (Math.abs(meter.drift) > d.driftRaiseV) {
      if (++meter.driftHigh >= d.driftRaiseReadings) {
        meter.driftHigh = 0;
        meter.driftCalm = 0;
        meter.driftOpen = true;
        this.book.raise(
          subject,
          kind,
          'warning',
          `Meter ${subject.deviceId} on line ${subject.lineId} drifting ${meter.drift < 0 ? 'low' : 'high'}: its readings sit ${formatVolts(round1(Math.abs(meter.drift)))} ` +
            `${meter.drift < 0 ? 'below' : 'above'} the line's pattern and keep to one side; check the meter's voltage sensor`,
          this.driftEvidence(scored, meter, reading.eventTime),
          reading.eventTime,
          reading.ingestTime,
          emit,
        );
      }
    } else meter.driftHigh = 0;
  }
}

/** The oldest event time in the meter's ring of recent readings. */
function oldest(meter: MeterDetector, fallback: number): number {
  return meter.times.length === 0 ? fallback : meter.times[meter.times.length < 2 ? 0 : meter.head % meter.times.length];
}

function popcount(bits: number): number {
  let count = 0;
  for (let b = bits; b !== 0; b &= b - 1) count++;
  return count;
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
