import type { ScoredReading } from '../model/line-voltage-model';
import { formatVolts } from './alert-envelope';
import { Hysteresis } from './hysteresis';
import { round1, round3, type MeterObservation, type ModelDetectionOptions, type ModelDetector } from './model-detection';

export const VOLTAGE_ANOMALY_KIND = 'voltage-anomaly';

/**
 * `voltage-anomaly` (per meter): a reading is anomalous when its |score| — the residual (actual −
 * predicted) over the line's robust spread — exceeds anomalyRaiseScore. Raised after
 * anomalyRaiseCount of the meter's last anomalyOf scored readings are anomalous, cleared after
 * anomalyClearReadings consecutive readings with |score| below anomalyClearScore.
 */
export class ResidualAnomalyDetector implements ModelDetector<MeterObservation> {
  readonly kind = VOLTAGE_ANOMALY_KIND;
  readonly hysteresis: Hysteresis;

  constructor(private readonly options: ModelDetectionOptions) {
    this.hysteresis = new Hysteresis({ raiseAfter: options.anomalyRaiseCount, within: options.anomalyOf, clearAfter: options.anomalyClearReadings });
  }

  /** Whether one reading is anomalous; the rule does not learn from such a reading either. */
  anomalous(scored: ScoredReading): boolean {
    return Math.abs(scored.score) > this.options.anomalyRaiseScore;
  }

  breaching({ scored }: MeterObservation): boolean {
    return this.anomalous(scored);
  }

  calm({ scored }: MeterObservation): boolean {
    return Math.abs(scored.score) < this.options.anomalyClearScore;
  }

  severity(): 'warning' {
    return 'warning';
  }

  raisedMessage({ subject, scored }: MeterObservation): string {
    const o = this.options;
    const direction = scored.residual < 0 ? 'below' : 'above';
    return (
      `Meter ${subject.deviceId} on line ${subject.lineId} reads ${formatVolts(round1(Math.abs(scored.residual)))} ${direction} the model's expectation ` +
      `(${formatVolts(scored.voltage)} vs ${formatVolts(round1(scored.predicted))}, score ${round1(scored.score)}) in ${o.anomalyRaiseCount} of its last ${o.anomalyOf} readings`
    );
  }

  clearedMessage({ subject, scored }: MeterObservation): string {
    return `Meter ${subject.deviceId} on line ${subject.lineId} back in line with the model for ${this.options.anomalyClearReadings} readings (${formatVolts(scored.voltage)}, expected ${formatVolts(round1(scored.predicted))})`;
  }

  evidence({ scored, since, eventTime, modelVersion }: MeterObservation) {
    return {
      value: scored.voltage,
      expected: round3(scored.predicted),
      threshold: round3(this.options.anomalyRaiseScore * scored.spread),
      score: round3(scored.score),
      modelVersion,
      windowStart: since,
      windowEnd: eventTime,
    };
  }
}
