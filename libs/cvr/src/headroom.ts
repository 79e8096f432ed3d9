import type { MeterHourMinimum } from './daily-figures';
import type { CvrOptions } from './options';
import { nearestRank, SeededRandom, seedOf } from './statistics';

export interface HourHeadroom {
  /** Local hour 0–23. */
  hour: number;
  /** Days with readings in this hour. */
  days: number;
  /** Across meters, of each meter's lowest reading in this hour over the period. */
  minV: number;
  p1V: number;
  p5V: number;
  /** minV − the limit (114 V). */
  headroomV: number;
  /** minV − (limit + margin). */
  headroomAboveMarginV: number;
}

export interface Bellwether {
  deviceId: string;
  /** Day-hours in which this meter was the line's lowest. */
  timesLowest: number;
  share: number;
  /** Its lowest reading over the period, volts. */
  minV: number;
}

export type HeadroomWarningKind = 'evening-peak-missing' | 'short-period';

export interface HeadroomWarning {
  kind: HeadroomWarningKind;
  message: string;
}

export interface HeadroomResult {
  /** Days the headroom was measured on (the normal days when the line ran a schedule). */
  days: number;
  limitV: number;
  marginV: number;
  byHour: HourHeadroom[];
  bellwethers: Bellwether[];
  /** The hour whose lowest meter is lowest. */
  worstHour: number | null;
  /** How far the head can come down with every meter staying ≥ limit + margin at the worst observed hour, volts (≥ 0). */
  safeReductionV: number;
  /** The `confidence` interval of safeReductionV: a basic bootstrap over days, whose lower end allows for a day worse than any observed. */
  safeReductionInterval: [number, number];
  /** What to apply: the interval's lower end, down to a tenth of a volt, never below 0. */
  recommendedReductionV: number;
  warnings: HeadroomWarning[];
}

/**
 * Headroom and bellwethers of one line from its meters' hourly minima over a set of days.
 *
 * Per local hour h, each meter's lowest reading at h over the days, and across meters their
 * minimum and 1st/5th percentiles (nearest rank). The safe reduction is the lowest of those
 * minima less the limit and the margin: lowering the head by that many volts lowers every
 * meter by as much, so at the worst observed hour the binding meter sits exactly at limit +
 * margin (the reduction slightly lowers the load and so the drop, which only adds margin).
 *
 * The observed minimum is optimistic — a longer period can only go lower — so the
 * recommendation is the lower end of a basic bootstrap interval over days: with W the
 * worst day's minimum and W* its bootstrap replicates, [2W − q_hi(W*), 2W − q_lo(W*)].
 */
export function estimateHeadroom(meterHours: readonly MeterHourMinimum[], days: ReadonlySet<string>, periodDays: number, options: CvrOptions, lineId = ''): HeadroomResult {
  const limit = options.voltageLimitV;
  const floor = limit + options.marginV;
  const rows = meterHours.filter((m) => days.has(m.day));
  const perMeterHour = new Map<string, number>(); // deviceId\0hour → min
  const daysPerHour = Array.from({ length: 24 }, () => new Set<string>());
  const lowestPerDayHour = new Map<string, { deviceId: string; v: number }>();
  const worstPerDay = new Map<string, number>();
  const meterMin = new Map<string, number>();
  for (const m of rows) {
    const key = `${m.deviceId}\u0000${m.hour}`;
    perMeterHour.set(key, Math.min(perMeterHour.get(key) ?? Number.POSITIVE_INFINITY, m.minVoltage));
    daysPerHour[m.hour].add(m.day);
    const slot = `${m.day}\u0000${m.hour}`;
    const lowest = lowestPerDayHour.get(slot);
    // Ties go to the smaller device id so the answer does not depend on the input's order.
    if (!lowest || m.minVoltage < lowest.v || (m.minVoltage === lowest.v && m.deviceId < lowest.deviceId)) lowestPerDayHour.set(slot, { deviceId: m.deviceId, v: m.minVoltage });
    worstPerDay.set(m.day, Math.min(worstPerDay.get(m.day) ?? Number.POSITIVE_INFINITY, m.minVoltage));
    meterMin.set(m.deviceId, Math.min(meterMin.get(m.deviceId) ?? Number.POSITIVE_INFINITY, m.minVoltage));
  }

  const byHour: HourHeadroom[] = [];
  const perHour = Array.from({ length: 24 }, () => [] as number[]);
  for (const [key, v] of perMeterHour) perHour[Number(key.split('\u0000')[1])].push(v);
  for (let hour = 0; hour < 24; hour++) {
    const values = perHour[hour].sort((a, b) => a - b);
    if (values.length === 0) continue;
    byHour.push({
      hour,
      days: daysPerHour[hour].size,
      minV: values[0],
      p1V: nearestRank(values, 1),
      p5V: nearestRank(values, 5),
      headroomV: values[0] - limit,
      headroomAboveMarginV: values[0] - floor,
    });
  }

  const counts = new Map<string, number>();
  for (const { deviceId } of lowestPerDayHour.values()) counts.set(deviceId, (counts.get(deviceId) ?? 0) + 1);
  const bellwethers = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, 5)
    .map(([deviceId, timesLowest]) => ({ deviceId, timesLowest, share: timesLowest / lowestPerDayHour.size, minV: meterMin.get(deviceId)! }));

  const worst = byHour.reduce<HourHeadroom | null>((w, h) => (w === null || h.minV < w.minV ? h : w), null);
  const dailyWorst = [...worstPerDay.values()];
  let safeReductionV = 0;
  let interval: [number, number] = [0, 0];
  if (worst !== null) {
    const observed = worst.minV;
    const random = new SeededRandom(seedOf(`headroom:${lineId}`, options.seed));
    const replicates: number[] = [];
    for (let b = 0; b < options.bootstrapReplicates; b++) {
      let lowest = Number.POSITIVE_INFINITY;
      for (let i = 0; i < dailyWorst.length; i++) lowest = Math.min(lowest, dailyWorst[random.below(dailyWorst.length)]);
      replicates.push(lowest);
    }
    replicates.sort((a, b) => a - b);
    const tail = ((1 - options.confidence) / 2) * 100;
    safeReductionV = Math.max(0, observed - floor);
    interval = [Math.max(0, 2 * observed - nearestRank(replicates, 100 - tail) - floor), Math.max(0, 2 * observed - nearestRank(replicates, tail) - floor)];
  }

  const warnings: HeadroomWarning[] = [];
  const [peakFrom, peakTo] = options.eveningPeakHours;
  if (!byHour.some((h) => h.hour >= peakFrom && h.hour <= peakTo)) {
    warnings.push({
      kind: 'evening-peak-missing',
      message: `the data never reaches the evening peak (${pad(peakFrom)}:00–${pad(peakTo + 1)}:00 local): the day's lowest voltages are not in it, so this headroom is optimistic — measure over whole days before lowering the setpoint`,
    });
  }
  if (periodDays < options.seasonDays) {
    warnings.push({
      kind: 'short-period',
      message: `the period covers ${periodDays} day(s); the season's peak load, and with it the lowest voltages, may lie outside it — confirm over at least ${options.seasonDays} days including the peak season`,
    });
  }

  return {
    days: worstPerDay.size,
    limitV: limit,
    marginV: options.marginV,
    byHour,
    bellwethers,
    worstHour: worst?.hour ?? null,
    safeReductionV,
    safeReductionInterval: interval,
    recommendedReductionV: Math.floor(interval[0] * 10) / 10,
    warnings,
  };
}

function pad(hour: number): string {
  return String(hour).padStart(2, '0');
}
