import type { LineDayFigures } from './daily-figures';
import { isWeekend } from './local-time';
import type { CvrOptions } from './options';

export type DayKind = 'reduced' | 'normal';

export interface ClassifiedDay extends LineDayFigures {
  kind: DayKind;
  /** Weekend or holiday. */
  offDay: boolean;
  /** ln(meanVoltage / normal level): the day's relative voltage change (≈ %ΔV / 100). */
  voltageChange: number;
}

export interface DayClassification {
  days: ClassifiedDay[];
  /** The mean of the normal days' mean voltages, volts. */
  normalLevelV: number;
  /** Line-days left out for incomplete data, with why. */
  dropped: { day: string; reason: string }[];
}

/**
 * Which days ran reduced. The schedule is not an input — it is read from the voltages, as an
 * evaluator checking a utility's claim would: the days' mean voltages are split in two where the
 * within-group spread is least (a one-dimensional 2-means, exact by scanning the sorted values);
 * the lower group is the reduced days only when its mean lies at least `reductionThresholdPct`
 * below the upper group's (load alone moves a line's daily mean by a few tenths of a per cent).
 */
export function classifyDays(lineDays: readonly LineDayFigures[], options: CvrOptions): DayClassification {
  const dropped: { day: string; reason: string }[] = [];
  const usualMeters = median(lineDays.map((d) => d.meters));
  const complete = lineDays.filter((d) => {
    if (d.hours < options.minHoursPerDay) dropped.push({ day: d.day, reason: `readings in ${d.hours} local hours (needs ${options.minHoursPerDay})` });
    else if (d.meters < options.minMeterFraction * usualMeters) dropped.push({ day: d.day, reason: `${d.meters} meters reported (the line usually has ${usualMeters})` });
    else if (!(d.energyKwh > 0)) dropped.push({ day: d.day, reason: 'no energy measured (neither kWh register nor kW)' });
    else return true;
    return false;
  });
  const sorted = complete.map((d) => d.meanVoltage).sort((a, b) => a - b);
  let threshold = Number.NEGATIVE_INFINITY;
  if (sorted.length >= 2) {
    const { split, lowMean, highMean } = bestSplit(sorted);
    if (highMean - lowMean >= (options.reductionThresholdPct / 100) * highMean) threshold = (sorted[split - 1] + sorted[split]) / 2;
  }
  const normal = complete.filter((d) => d.meanVoltage >= threshold);
  const normalLevelV = normal.reduce((s, d) => s + d.meanVoltage, 0) / normal.length;
  const holidays = new Set(options.holidays);
  return {
    days: complete.map((d) => ({
      ...d,
      kind: d.meanVoltage >= threshold ? 'normal' : 'reduced',
      offDay: isWeekend(d.weekday) || holidays.has(d.day),
      voltageChange: Math.log(d.meanVoltage / normalLevelV),
    })),
    normalLevelV,
    dropped,
  };
}

/** The split of sorted values into [0, split) and [split, n) with the least within-group sum of squares. */
function bestSplit(sorted: readonly number[]): { split: number; lowMean: number; highMean: number } {
  const n = sorted.length;
  const prefix = [0];
  const prefixSq = [0];
  for (const v of sorted) {
    prefix.push(prefix[prefix.length - 1] + v);
    prefixSq.push(prefixSq[prefixSq.length - 1] + v * v);
  }
  const ss = (from: number, to: number) => prefixSq[to] - prefixSq[from] - (prefix[to] - prefix[from]) ** 2 / (to - from);
  let best = { split: 1, cost: Number.POSITIVE_INFINITY };
  for (let split = 1; split < n; split++) {
    const cost = ss(0, split) + ss(split, n);
    if (cost < best.cost) best = { split, cost };
  }
  return { split: best.split, lowMean: prefix[best.split] / best.split, highMean: (prefix[n] - prefix[best.split]) / (n - best.split) };
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}
