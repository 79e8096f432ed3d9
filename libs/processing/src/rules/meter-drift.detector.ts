import { formatVolts } from './alert-envelope';
import { Hysteresis, type HysteresisState } from './hysteresis';
import { round1, round3, type MeterObservation, type ModelDetectionOptions, type ModelDetector } from './model-detection';

export const METER_DRIFT_KIND = 'meter-drift';

export interface MeterDriftState extends HysteresisState {
  /** EWMA of the meter's residuals (volts): the drift. */
  level: number;
}

/**
 * `meter-drift` (per meter): the drift is an EWMA of the meter's residuals, which moves away from
 * zero when its readings keep to one side of the model: slow sensor drift that no single reading
 * shows. Raised after driftRaiseReadings consecutive readings with |drift| above driftRaiseV,
 * cleared after driftClearReadings consecutive readings with |drift| below driftClearV.
 */
export class MeterDriftDetector implements ModelDetector<MeterObservation, MeterDriftState> {
  readonly kind = METER_DRIFT_KIND;
  readonly hysteresis: Hysteresis;

  constructor(private readonly options: ModelDetectionOptions) {
    this.hysteresis = new Hysteresis({ raiseAfter: options.driftRaiseReadings, clearAfter: options.driftClearReadings });
  }

  update({ scored }: MeterObservation, state: MeterDriftState): void {
    const o = this.options;
    // Winsorised: one wild reading (a step the shock guard has not caught yet) must not look like drift.
    const limit = o.anomalyRaiseScore * scored.spread;
    state.level += o.driftAlpha * (Math.max(-limit, Math.min(limit, scored.residual)) - state.level);
  }

  breaching(_observation: MeterObservation, state: MeterDriftState): boolean {
    return Math.abs(state.level) > this.options.driftRaiseV;
  }

  calm(_observation: MeterObservation, state: MeterDriftState): boolean {
    return Math.abs(state.level) < this.options.driftClearV;
  }

  severity(): 'warning' {
    return 'warning';
  }

  raisedMessage({ subject }: MeterObservation, { level }: MeterDriftState): string {
    return (
      `Meter ${subject.deviceId} on line ${subject.lineId} drifting ${level < 0 ? 'low' : 'high'}: its readings sit ${formatVolts(round1(Math.abs(level)))} ` +
      `${level < 0 ? 'below' : 'above'} the line's pattern and keep to one side; check the meter's voltage sensor`
    );
  }

  clearedMessage({ subject }: MeterObservation): string {
    // The threshold as configured: formatVolts rounds to one decimal, and 0.15 would read 0.1.
    return `Meter ${subject.deviceId} on line ${subject.lineId} no longer drifting: its readings are back within ${this.options.driftClearV} V of the model`;
  }

  evidence({ scored, since, eventTime, modelVersion }: MeterObservation, { level }: MeterDriftState) {
    return {
      value: round3(level),
      expected: 0,
      threshold: this.options.driftRaiseV,
      score: round3(level / scored.spread),
      modelVersion,
      windowStart: since,
      windowEnd: eventTime,
      voltage: scored.voltage,
    };
  }
}
