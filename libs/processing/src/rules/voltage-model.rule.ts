import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { DEFAULT_MODEL_OPTIONS, LineVoltageModel, type LineVoltageModelSnapshot, type ScoredReading, type VoltageModelOptions } from '../model/line-voltage-model';
import type { VoltageModelVersion } from '../model/model-version';
import { AlertBook, type OpenAlert } from './alert-book';
import { closedHysteresis, type HysteresisState } from './hysteresis';
import { LINE_DEVIATION_KIND, LineDeviationDetector, type LineWindowObservation } from './line-deviation.detector';
import { METER_DRIFT_KIND, MeterDriftDetector, type MeterDriftState } from './meter-drift.detector';
import { DEFAULT_DETECTION_OPTIONS, runDetector, type MeterObservation, type ModelDetectionOptions } from './model-detection';
import { ResidualAnomalyDetector, VOLTAGE_ANOMALY_KIND } from './residual-anomaly.detector';
import type { AlertRule } from './rule';

export { DEFAULT_DETECTION_OPTIONS, type ModelDetectionOptions } from './model-detection';

export const MODEL_ALERT_KINDS = {
  anomaly: VOLTAGE_ANOMALY_KIND,
  drift: METER_DRIFT_KIND,
  line: LINE_DEVIATION_KIND,
} as const;

/** Per-meter state of the detectors (the model's own state lives in LineVoltageModel). */
interface MeterState {
  anomaly: HysteresisState;
  drift: MeterDriftState;
  /** Event times of the last `anomalyOf` scored readings, a ring: times[head] is the oldest (evidence span). */
  times: number[];
  head: number;
  /** The range of line load the meter's offset model has seen: its load slope means nothing before the load has moved. */
  minLoad: number;
  maxLoad: number;
}

interface LineState {
  model: LineVoltageModel;
  meters: Map<string, MeterState>;
  /** EWMA of |residual| over the line's readings: high when the whole line moved at once. */
  shock: number;
  /** line-voltage-deviation's hysteresis; `open` mirrors the alert book (so the snapshot does not store it). */
  deviation: HysteresisState;
}

/**
 * A meter's detector state as checkpoints store it: the layout from before the detectors were
 * split out of this rule, kept so that checkpoints stay readable both ways.
 */
export interface MeterDetectorSnapshot {
  /** voltage-anomaly: bit i set when the i-th most recent scored reading was anomalous (emptied when the alert raises). */
  flags: number;
  /** voltage-anomaly: calm readings in a row while the alert is open. */
  calm: number;
  /** meter-drift: the drift estimate (volts). */
  drift: number;
  /** meter-drift: readings in a row with |drift| above driftRaiseV while the alert is closed. */
  driftHigh: number;
  /** meter-drift: calm readings in a row while the alert is open. */
  driftCalm: number;
  /** The ring of event times of the last `anomalyOf` scored readings, and its head. */
  times: number[];
  head: number;
  anomalyOpen: boolean;
  driftOpen: boolean;
  minLoad: number;
  maxLoad: number;
}

export interface VoltageModelRuleState {
  modelVersion: number;
  open: OpenAlert[];
  lines: Array<{
    lineId: string;
    model: LineVoltageModelSnapshot;
    shock: number;
    /** line-voltage-deviation: deviating windows in a row while the alert is closed (whether it is open is in `open`). */
    deviating: number;
    /** line-voltage-deviation: calm windows in a row while the alert is open. */
    calmWindows: number;
    meters: Array<[string, MeterDetectorSnapshot]>;
  }>;
}

/** Readings whose line moves this much faster than its spread are part of a line-wide event, not a meter's. */
const SHOCK_ALPHA = 0.05;
const SHOCK_SPREADS = 4;
const SHOCK_MIN_V = 1;

/**
 * The online voltage model per line, and the detectors that read its residuals:
 * ResidualAnomalyDetector (`voltage-anomaly`) and MeterDriftDetector (`meter-drift`) on every
 * scored reading of a meter, LineDeviationDetector (`line-voltage-deviation`) on every fired line
 * window. The rule scores each reading and window, runs the detectors, and then lets the model
 * learn from it.
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
  private readonly anomaly: ResidualAnomalyDetector;
  private readonly drift: MeterDriftDetector;
  private readonly lineDeviation: LineDeviationDetector;

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
    this.anomaly = new ResidualAnomalyDetector(this.detection);
    this.drift = new MeterDriftDetector(this.detection);
    this.lineDeviation = new LineDeviationDetector(this.detection);
  }

  onReading(reading: ReadingEnvelope, emit: (alert: AlertEnvelope) => void): void {
    const line = this.line(reading.lineId);
    const body = reading.body;
    const deviceId = reading.deviceId ?? body.deviceId;
    const scored = line.model.score(deviceId, reading.eventTime, body.voltage, typeof body.kw === 'number' ? body.kw : undefined);
    this.observe?.(reading, scored);

    line.shock += SHOCK_ALPHA * (Math.abs(scored.residual) - line.shock);
    const shocked = line.shock > Math.max(SHOCK_MIN_V, SHOCK_SPREADS * scored.spread);
    let meter = line.meters.get(deviceId);
    if (meter === undefined) {
      meter = {
        anomaly: closedHysteresis(),
        drift: { ...closedHysteresis(), level: 0 },
        times: [],
        head: 0,
        minLoad: scored.loadKw,
        maxLoad: scored.loadKw,
      };
      line.meters.set(deviceId, meter);
    }
    if (scored.loadKw < meter.minLoad) meter.minLoad = scored.loadKw;
    if (scored.loadKw > meter.maxLoad) meter.maxLoad = scored.loadKw;
    if (!shocked && this.calibrated(meter, scored.meterReadings)) {
      this.remember(meter, reading.eventTime);
      const observation: MeterObservation = {
        subject: { lineId: reading.lineId, deviceId },
        eventTime: reading.eventTime,
        ingestTime: reading.ingestTime,
        modelVersion: this.modelVersion,
        scored,
        since: oldest(meter, reading.eventTime),
      };
      runDetector(this.anomaly, meter.anomaly, observation, this.book, emit);
      runDetector(this.drift, meter.drift, observation, this.book, emit);
    }
    // Only an open alert makes a meter suspect: freezing on a mere hint of drift would stop a
    // young model from ever learning its load slope.
    const suspect = meter.anomaly.open || meter.drift.open;
    const learnable = !suspect && !shocked && !this.anomaly.anomalous(scored);
    line.model.learn(scored, learnable, learnable);
    if (!suspect) line.model.follow(scored);
  }

  onAggregate(aggregate: AggregateEnvelope, emit: (alert: AlertEnvelope) => void): void {
    const body = aggregate.body;
    if (body.deviceId !== undefined) return;
    const line = this.line(body.lineId);
    const mid = (body.windowStart + body.windowEnd) / 2;
    const kw = body.kw?.mean;
    const observation: LineWindowObservation = {
      subject: { lineId: body.lineId },
      eventTime: body.windowStart,
      ingestTime: aggregate.ingestTime,
      modelVersion: this.modelVersion,
      scored: line.model.scoreWindow(mid, body.voltage.mean, kw),
      windowStart: body.windowStart,
      windowEnd: body.windowEnd,
    };
    // The baseline learns from a window only while the line has no open alert and the window does
    // not count toward one (before the baseline's warm-up, none does).
    const learnable = !line.deviation.open && !this.lineDeviation.breaching(observation);
    runDetector(this.lineDeviation, line.deviation, observation, this.book, emit);
    if (learnable) line.model.learnWindow(mid, kw, observation.scored);
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
        deviating: l.deviation.breaches,
        calmWindows: l.deviation.calm,
        meters: [...l.meters].map(([id, m]) => [id, meterSnapshot(m)] as [string, MeterDetectorSnapshot]),
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
        deviation: { open: this.book.isOpen({ lineId: l.lineId }, LINE_DEVIATION_KIND), breaches: l.deviating, calm: l.calmWindows },
        meters: new Map(l.meters.map(([id, m]) => [id, meterFromSnapshot(m)])),
      });
    }
  }

  /**
   * A meter is judged once its offset model has learned from meterWarmupReadings readings over a
   * load range of at least a quarter of the highest load seen (a flat-load feeder: after ten times
   * the warm-up), so a model that has not yet seen the evening peak does not cry drift at it.
   */
  private calibrated(meter: MeterState, readings: number): boolean {
    const warmup = this.detection.meterWarmupReadings;
    if (readings < warmup) return false;
    return readings >= 10 * warmup || meter.maxLoad - meter.minLoad >= 0.25 * meter.maxLoad;
  }

  private line(lineId: string): LineState {
    let line = this.lines.get(lineId);
    if (line === undefined) {
      const deviation = { ...closedHysteresis(), open: this.book.isOpen({ lineId }, LINE_DEVIATION_KIND) };
      line = { model: new LineVoltageModel(this.modelOptions), meters: new Map(), shock: 0, deviation };
      this.lines.set(lineId, line);
    }
    return line;
  }

  /** Adds a scored reading's event time to the meter's ring of the last anomalyOf. */
  private remember(meter: MeterState, eventTime: number): void {
    const size = this.detection.anomalyOf;
    if (meter.times.length < size) meter.times.push(eventTime);
    else {
      meter.times[meter.head] = eventTime;
      meter.head = (meter.head + 1) % size;
    }
  }
}

/** The oldest event time in the meter's ring of recent readings. */
function oldest(meter: MeterState, fallback: number): number {
  return meter.times.length === 0 ? fallback : meter.times[meter.times.length < 2 ? 0 : meter.head % meter.times.length];
}

function meterSnapshot(m: MeterState): MeterDetectorSnapshot {
  return {
    flags: m.anomaly.breaches,
    calm: m.anomaly.calm,
    drift: m.drift.level,
    driftHigh: m.drift.breaches,
    driftCalm: m.drift.calm,
    times: [...m.times],
    head: m.head,
    anomalyOpen: m.anomaly.open,
    driftOpen: m.drift.open,
    minLoad: m.minLoad,
    maxLoad: m.maxLoad,
  };
}

function meterFromSnapshot(m: MeterDetectorSnapshot): MeterState {
  return {
    anomaly: { open: m.anomalyOpen, breaches: m.flags, calm: m.calm },
    drift: { open: m.driftOpen, breaches: m.driftHigh, calm: m.driftCalm, level: m.drift },
    times: [...m.times],
    head: m.head,
    minLoad: m.minLoad,
    maxLoad: m.maxLoad,
  };
}
