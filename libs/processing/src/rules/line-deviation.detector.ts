import type { ScoredWindow } from '../model/line-voltage-model';
import { formatVolts } from './alert-envelope';
import { Hysteresis } from './hysteresis';
import { round1, round3, type DetectorObservation, type ModelDetectionOptions, type ModelDetector } from './model-detection';

export const LINE_DEVIATION_KIND = 'line-voltage-deviation';

/** One fired line window scored against the line baseline; its alert events carry the window's start. */
export interface LineWindowObservation extends DetectorObservation {
  scored: ScoredWindow;
  windowStart: number;
  windowEnd: number;
}

/**
 * `line-voltage-deviation` (per line): fired line windows against the line baseline (hour and
 * load, not the recent level), for a regulator stuck taps low or a failed capacitor bank. A
 * window deviates when it departs from the baseline by more than max(lineShiftV, lineRaiseScore
 * × spread) and the baseline has learned from baselineWarmupWindows windows; raised after
 * lineRaiseWindows deviating windows in a row (critical from lineCriticalV volts off), cleared after
 * lineClearWindows windows in a row within max(lineCalmV, 3 × spread).
 */
export class LineDeviationDetector implements ModelDetector<LineWindowObservation> {
  readonly kind = LINE_DEVIATION_KIND;
  readonly hysteresis: Hysteresis;

  constructor(private readonly options: ModelDetectionOptions) {
    this.hysteresis = new Hysteresis({ raiseAfter: options.lineRaiseWindows, clearAfter: options.lineClearWindows });
  }

  breaching({ scored }: LineWindowObservation): boolean {
    return Math.abs(scored.residual) > this.threshold(scored) && scored.baselineWindows >= this.options.baselineWarmupWindows;
  }

  calm({ scored }: LineWindowObservation): boolean {
    return Math.abs(scored.residual) < this.calmBand(scored);
  }

  severity({ scored }: LineWindowObservation): 'critical' | 'warning' {
    return Math.abs(scored.residual) >= this.options.lineCriticalV ? 'critical' : 'warning';
  }

  raisedMessage({ subject, scored }: LineWindowObservation): string {
    const below = scored.residual < 0;
    return (
      `Line ${subject.lineId} voltage ${formatVolts(round1(Math.abs(scored.residual)))} ${below ? 'below' : 'above'} what the model expects at this hour and load ` +
      `(mean ${formatVolts(round1(scored.mean))}, expected ${formatVolts(round1(scored.expected))}) for ${this.options.lineRaiseWindows} windows: ` +
      (below ? 'a regulator or capacitor bank may have failed' : 'check the regulator setting and capacitor banks')
    );
  }

  clearedMessage({ subject, scored }: LineWindowObservation): string {
    return `Line ${subject.lineId} back within ${formatVolts(round1(this.calmBand(scored)))} of the model's expectation for ${this.options.lineClearWindows} windows (mean ${formatVolts(round1(scored.mean))}, expected ${formatVolts(round1(scored.expected))})`;
  }

  evidence({ scored, modelVersion, windowStart, windowEnd }: LineWindowObservation) {
    return {
      value: scored.mean,
      expected: round3(scored.expected),
      threshold: round3(this.threshold(scored)),
      score: round3(scored.score),
      modelVersion,
      windowStart,
      windowEnd,
    };
  }

  private threshold(scored: ScoredWindow): number {
    return Math.max(this.options.lineShiftV, this.options.lineRaiseScore * scored.spread);
  }

  private calmBand(scored: ScoredWindow): number {
    return Math.max(this.options.lineCalmV, 3 * scored.spread);
  }
}
