import type { CvrDailyFigures, LineDayFigures, MeterHourMinimum } from '../daily-figures';
import { SeededRandom } from '../statistics';

export interface SyntheticFleetOptions {
  lines: number;
  days: number;
  /** True factor per line. */
  factors: number[];
  /** Reduction of a reduced day, per cent. */
  reductionPct: number;
  /** sd of the line's own daily noise in ln E. */
  noise: number;
  seed: number;
  /** When false every day runs normal. */
  schedule?: boolean;
  /** Local hours the meters report in (default all 24). */
  hours?: number[];
}

export interface SyntheticLineTruth {
  lineId: string;
  factor: number;
  savedKwh: number;
  /** The lowest meter voltage on the normal days, volts. */
  lowestNormalV: number;
}

const DAY0 = Date.parse('2026-06-01T00:00:00Z'); // a Monday

/**
 * Daily figures of a fleet with known truth, built straight from the model the estimators
 * assume: ln E_d = ln E₀ + s·w_d − 0.06·offDay + f·ln(V_d / V₀) + e_d, with w_d a weather level
 * shared by the lines (AR(1)), V_d the head's setpoint on the day less a weather-driven drop,
 * and pairs of days, one reduced, in random order per line. Five meters per line give hourly
 * minima along an evening-peaking drop.
 */
export function syntheticFleet(options: SyntheticFleetOptions): { figures: CvrDailyFigures; truth: SyntheticLineTruth[] } {
  const random = new SeededRandom(options.seed);
  const gaussian = () => {
    const u = 1 - random.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random.next());
  };
  const weather: number[] = [];
  for (let d = 0; d < options.days; d++) weather.push(0.7 * (weather[d - 1] ?? 0) + 0.714 * 0.06 * gaussian());
  const lineDays: LineDayFigures[] = [];
  const meterHours: MeterHourMinimum[] = [];
  const truth: SyntheticLineTruth[] = [];
  const hours = options.hours ?? Array.from({ length: 24 }, (_, h) => h);
  for (let l = 0; l < options.lines; l++) {
    const lineId = `L${String(l + 1).padStart(2, '0')}`;
    const f = options.factors[l];
    const sensitivity = 0.8 + 0.4 * random.next();
    let firstReduced = false;
    let savedKwh = 0;
    let lowestNormalV = Number.POSITIVE_INFINITY;
    for (let d = 0; d < options.days; d++) {
      if (d % 2 === 0) firstReduced = random.next() < 0.5;
      const reduced = options.schedule !== false && (d % 2 === 0) === firstReduced;
      const date = new Date(DAY0 + d * 86_400_000);
      const weekday = date.getUTCDay();
      const off = weekday === 0 || weekday === 6;
      const head = 125 * (reduced ? 1 - options.reductionPct / 100 : 1);
      const meanV = head - 3 - 2 * weather[d];
      const normalMeanV = 125 - 3 - 2 * weather[d];
      const counterfactual = 1000 * Math.exp(sensitivity * weather[d] - (off ? 0.06 : 0) + options.noise * gaussian());
      const energy = counterfactual * Math.exp(f * Math.log(meanV / normalMeanV));
      if (reduced) savedKwh += counterfactual - energy;
      const day = date.toISOString().slice(0, 10);
      let minVoltage = Number.POSITIVE_INFINITY;
      for (let m = 0; m < 5; m++) {
        for (const hour of hours) {
          const load = 0.4 + 0.6 * Math.exp(-0.5 * ((hour - 19) / 2) ** 2);
          const v = head - (m + 1) * 1.2 * load * (1 + weather[d]) - 0.1 * random.next();
          minVoltage = Math.min(minVoltage, v);
          meterHours.push({ lineId, deviceId: `${lineId}-m${m + 1}`, day, hour, minVoltage: v });
        }
      }
      if (!reduced) lowestNormalV = Math.min(lowestNormalV, minVoltage);
      lineDays.push({ lineId, day, weekday, readings: 5 * 96, meters: 5, hours: 24, energyKwh: energy, energySource: 'kwh-register', meanVoltage: meanV, minVoltage });
    }
    truth.push({ lineId, factor: f, savedKwh, lowestNormalV });
  }
  return { figures: { timeZone: 'UTC', lineDays, meterHours }, truth };
}
