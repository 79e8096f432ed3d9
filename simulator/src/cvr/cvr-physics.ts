import { LocalCalendar } from '@meterstream/cvr';
import type { Fleet } from '../fleet/fleet';
import { METER_OFFSET_V, NOISE_LIMIT_SIGMAS, VOLTAGE_NOISE_SIGMA } from '../physics/feeder';
import { Random } from '../random';
import type { CvrLineTruth, CvrSimulationSpec, CvrTruth } from './cvr-spec';
import { zipFactor, zipForFactor, zipPowerRatio, type ZipComposition } from './zip-load';

const DEFAULT_FACTORS = { min: 0.4, max: 1.1 };
const DEFAULT_REDUCTION_PCT = { min: 2, max: 4 };
/** A CVR line's lowest meter at peak, on a normal day, sits this far above 114 V + the day's reduction + worst offset and noise. */
const CVR_SPARE_V = { min: 0.6, max: 2.0 } as const;
const LIMIT_V = 114;
/** The largest weather multiplier of a line's load the design allows for (e^(1.3 · 3σ) at the default σ). */
const WORST_WEATHER = 1.3;

interface LineCvr {
  zip: ZipComposition;
  reductionPct: number;
  reductionV: number;
  /** How strongly the line's load follows the weather (×). */
  weatherSensitivity: number;
  truth: CvrLineTruth;
}

/**
 * CVR physics for the simulated fleet: per line a ZIP load (so a true CVR factor), day-to-day
 * weather and a randomised block schedule lowering its substation setpoint on chosen local days.
 *
 * Schedule: the local days from `scheduleStart` form pairs; in each pair one day runs reduced
 * and one normal, which one drawn per line and pair (the randomised block design M&V uses).
 * Every line is rebuilt with a drop that leaves room for its reduction (its last meter at peak
 * on a reduced day stays above 114 V with the worst offset and noise), as a utility runs CVR
 * only where the voltage allows it.
 *
 * Each reading's power is the normal-setpoint power × the ZIP ratio at v = (V − ΔV)/V, V the
 * meter's noise-free voltage at the normal setpoint; the counterfactual (the same reading at the
 * normal setpoint) is the same draw without that ratio, so the true saving is exact, not modelled.
 * The 2–4 % drop in current lowers the feeder's own drop by a few hundredths of a volt; that
 * feedback is left out.
 */
export class CvrPhysics {
  readonly calendar: LocalCalendar;
  private readonly lines: LineCvr[];
  private readonly scheduleStartDay: string;
  private readonly scheduleStartIndex: number;
  private readonly weatherSigma: number;
  private readonly weatherCorrelation: number;
  private readonly lineNoise: number;
  private readonly weatherLevels: number[] = [];
  private readonly weatherRandom: Random;
  private readonly dayIndex = new Map<string, number>();
  private readonly seed: number;
  private readonly counted = new Set<string>();
  /** Per line and local day: reduced or not, and the weather multiplier (computed once, not per reading). */
  private readonly days = new Map<string, { reduced: boolean; weather: number }>();

  constructor(seed: number, fleet: Fleet, spec: CvrSimulationSpec, runStart: number) {
    this.seed = seed;
    this.calendar = new LocalCalendar(spec.timeZone ?? 'UTC');
    this.scheduleStartDay = this.calendar.at(spec.scheduleStart ?? runStart).day;
    this.scheduleStartIndex = dayNumber(this.scheduleStartDay);
    this.weatherSigma = spec.weather?.sigma ?? 0.06;
    this.weatherCorrelation = spec.weather?.correlation ?? 0.7;
    this.lineNoise = spec.weather?.lineNoise ?? 0.002;
    this.weatherRandom = Random.for(seed, 'cvr-weather');
    const factors = lineFactors(seed, fleet.lines.length, spec.factors ?? DEFAULT_FACTORS);
    const range = spec.reductionPct ?? DEFAULT_REDUCTION_PCT;
    if (!(range.min > 0 && range.max >= range.min && range.max <= 10)) throw new RangeError(`cvr.reductionPct must satisfy 0 < min ≤ max ≤ 10, got ${JSON.stringify(range)}`);
    this.lines = fleet.lines.map((line, l) => {
      const r = Random.for(seed, 'cvr-line', l);
      const reductionPct = Math.round(r.uniform(range.min, range.max) * 100) / 100;
      const reductionV = (line.substationV * reductionPct) / 100;
      const worstDown = -METER_OFFSET_V.min + NOISE_LIMIT_SIGMAS * VOLTAGE_NOISE_SIGMA;
      const tailAtPeak = LIMIT_V + reductionV + worstDown + r.uniform(CVR_SPARE_V.min, CVR_SPARE_V.max);
      // Rebuild the line for CVR: less drop, so the reduction fits inside Range A even on the
      // hottest day the weather makes (its load, and so its drop, up to WORST_WEATHER× the curve's).
      line.dropAtPeakV = Math.round(Math.max(0.5, (line.substationV - tailAtPeak) / WORST_WEATHER) * 1000) / 1000;
      const zip = zipForFactor(factors[l]);
      return {
        zip,
        reductionPct,
        reductionV,
        weatherSensitivity: r.uniform(0.7, 1.3),
        truth: {
          lineId: line.lineId,
          trueFactor: zipFactor(zip),
          zip: { ...zip },
          reductionPct,
          reductionV,
          substationV: line.substationV,
          dropAtPeakV: line.dropAtPeakV,
          reducedDays: [],
          normalDays: [],
          reducedDaysKwh: 0,
          counterfactualKwh: 0,
          savedKwh: 0,
        },
      };
    });
  }

  /** Volts the line's head is lowered at `ts` (0 on a normal day). */
  setpointShiftV(lineIndex: number, ts: number): number {
    return this.day(lineIndex, this.calendar.at(ts).day).reduced ? this.lines[lineIndex].reductionV : 0;
  }

  /**
   * The time at which to read the (UTC) daily load curve so that its peaks fall on the utility's
   * local hours: `ts` plus the zone's offset. In UTC, `ts` itself.
   */
  loadCurveTime(ts: number): number {
    return ts + this.calendar.at(ts).offsetMs;
  }

  /** The weather's load multiplier for a line at `ts`. */
  weatherAt(lineIndex: number, ts: number): number {
    return this.day(lineIndex, this.calendar.at(ts).day).weather;
  }

  private day(lineIndex: number, day: string): { reduced: boolean; weather: number } {
    const key = `${lineIndex}:${day}`;
    let figures = this.days.get(key);
    if (figures === undefined) {
      figures = { reduced: this.isReduced(lineIndex, day), weather: this.weatherMultiplier(lineIndex, day) };
      this.days.set(key, figures);
    }
    return figures;
  }

  /** Whether the line runs reduced on this local day (the randomised block schedule). */
  isReduced(lineIndex: number, day: string): boolean {
    const offset = dayNumber(day) - this.scheduleStartIndex;
    if (offset < 0) return false;
    const firstReduced = Random.for(this.seed, 'cvr-schedule', lineIndex, Math.floor(offset / 2)).next() < 0.5;
    return (offset % 2 === 0) === firstReduced;
  }

  /** The load multiplier of a line on a local day from the weather: e^(s·w_d + ε_line,d). */
  weatherMultiplier(lineIndex: number, day: string): number {
    const line = this.lines[lineIndex];
    const own = Random.for(this.seed, 'cvr-weather-line', lineIndex, day).gaussian() * this.lineNoise;
    return Math.exp(line.weatherSensitivity * this.weatherLevel(day) + own);
  }

  /**
   * The power of one reading given its normal-setpoint power `kwNormal` and the meter's
   * noise-free voltage at the normal setpoint; records the truth of the day.
   */
  power(lineIndex: number, ts: number, normalVoltage: number, kwNormal: number, intervalHours: number): number {
    const local = this.calendar.at(ts);
    const line = this.lines[lineIndex];
    const reduced = this.day(lineIndex, local.day).reduced;
    this.countDay(lineIndex, local.day, reduced);
    if (!reduced) return kwNormal;
    const kw = kwNormal * zipPowerRatio(line.zip, (normalVoltage - line.reductionV) / normalVoltage);
    line.truth.reducedDaysKwh += kw * intervalHours;
    line.truth.counterfactualKwh += kwNormal * intervalHours;
    line.truth.savedKwh = line.truth.counterfactualKwh - line.truth.reducedDaysKwh;
    return kw;
  }

  /** The truth so far: schedules, factors, and the counterfactual saving of the days generated. */
  truth(): CvrTruth {
    return {
      timeZone: this.calendar.timeZone,
      lines: this.lines.map((l) => ({ ...l.truth, zip: { ...l.truth.zip }, reducedDays: [...l.truth.reducedDays], normalDays: [...l.truth.normalDays] })),
      weather: [...this.dayIndex.keys()].sort().map((day) => {
        const level = this.weatherLevel(day);
        return { day, level, temperatureC: Math.round((27 + (level / this.weatherSigma) * 4) * 10) / 10 };
      }),
    };
  }

  private countDay(lineIndex: number, day: string, reduced: boolean): void {
    const key = `${lineIndex}:${day}`;
    if (this.counted.has(key)) return;
    this.counted.add(key);
    if (dayNumber(day) < this.scheduleStartIndex) return;
    (reduced ? this.lines[lineIndex].truth.reducedDays : this.lines[lineIndex].truth.normalDays).push(day);
  }

  /** The fleet's weather on a local day: an AR(1) process over days, stationary with sd `weatherSigma`. */
  private weatherLevel(day: string): number {
    let index = this.dayIndex.get(day);
    if (index === undefined) {
      index = dayNumber(day);
      this.dayIndex.set(day, index);
    }
    const offset = index - this.scheduleStartIndex + 400; // days before the schedule have weather too
    const rho = this.weatherCorrelation;
    while (this.weatherLevels.length <= Math.max(0, offset)) {
      const previous = this.weatherLevels.length === 0 ? this.weatherRandom.gaussian() * this.weatherSigma : this.weatherLevels[this.weatherLevels.length - 1];
      this.weatherLevels.push(rho * previous + Math.sqrt(1 - rho * rho) * this.weatherSigma * this.weatherRandom.gaussian());
    }
    return this.weatherLevels[Math.max(0, offset)];
  }
}

/** Days since 1970-01-01 of a `YYYY-MM-DD`. */
function dayNumber(day: string): number {
  return Math.round(Date.parse(`${day}T00:00:00Z`) / 86_400_000);
}

function lineFactors(seed: number, lines: number, factors: number[] | { min: number; max: number }): number[] {
  if (Array.isArray(factors)) {
    if (factors.length !== lines) throw new RangeError(`cvr.factors lists ${factors.length} factors for ${lines} lines`);
    return factors;
  }
  if (!(factors.min >= 0 && factors.max >= factors.min && factors.max <= 1.7)) throw new RangeError(`cvr.factors must satisfy 0 ≤ min ≤ max ≤ 1.7, got ${JSON.stringify(factors)}`);
  const even = Array.from({ length: lines }, (_, i) => (lines === 1 ? (factors.min + factors.max) / 2 : factors.min + ((factors.max - factors.min) * i) / (lines - 1)));
  return Random.for(seed, 'cvr-factors').shuffle(even).map((f) => Math.round(f * 1000) / 1000);
}
