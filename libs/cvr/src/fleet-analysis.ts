import { estimateCvrFactor, type CvrFactorResult } from './cvr-factor';
import type { CvrDailyFigures, LineDayFigures, MeterHourMinimum } from './daily-figures';
import { classifyDays, type ClassifiedDay, type DayClassification } from './day-classification';
import { estimateHeadroom, type HeadroomResult } from './headroom';
import { resolveCvrOptions, type CvrOptions } from './options';
import { olsCoefficients } from './statistics';
import { periodSavings, projectedSavings, type PeriodSavings, type ProjectedSavings } from './savings';

export interface LineCvrReport {
  lineId: string;
  /** First and last local day of the data analysed. */
  from: string | null;
  to: string | null;
  timeZone: string;
  days: { total: number; reduced: number; normal: number; dropped: { day: string; reason: string }[] };
  /** The normal days' mean meter voltage, volts. */
  normalLevelV: number;
  /** Mean daily energy of the normal days, kWh. */
  normalDailyKwh: number;
  headroom: HeadroomResult;
  factor: CvrFactorResult;
  /** null when the factor is refused. */
  savings: PeriodSavings | null;
  /** At the recommended reduction; null when the factor is refused. */
  projected: ProjectedSavings | null;
  /** The classified days, for charts and checks. */
  daily: Array<Pick<ClassifiedDay, 'day' | 'kind' | 'offDay' | 'energyKwh' | 'meanVoltage' | 'minVoltage' | 'energySource'>>;
}

/**
 * The whole analysis for every line in the figures, in line order. Deterministic: the same
 * figures and options give the same reports (the bootstraps draw from seeded streams).
 */
export function analyseFleet(figures: CvrDailyFigures, options: Partial<CvrOptions> = {}): LineCvrReport[] {
  const resolved = resolveCvrOptions(options);
  const byLine = groupBy(figures.lineDays, (d) => d.lineId);
  const hoursByLine = groupBy(figures.meterHours, (m) => m.lineId);
  const classified = new Map<string, DayClassification>();
  for (const [lineId, days] of byLine) classified.set(lineId, classifyDays(days, resolved));
  const residuals = normalDayResiduals(classified);
  return [...byLine.keys()].sort().map((lineId) => analyse(lineId, classified.get(lineId)!, hoursByLine.get(lineId) ?? [], leaveOneOutIndex(lineId, residuals), figures.timeZone, resolved));
}

function analyse(lineId: string, classification: DayClassification, meterHours: readonly MeterHourMinimum[], loadIndex: Map<string, number>, timeZone: string, options: CvrOptions): LineCvrReport {
  const { days, normalLevelV, dropped } = classification;
  const allDays = [...days.map((d) => d.day), ...dropped.map((d) => d.day)].sort();
  const reduced = days.filter((d) => d.kind === 'reduced');
  const normal = days.filter((d) => d.kind === 'normal');
  // Headroom is measured from the setpoint the reduction would start from: the normal days'.
  const headroomDays = new Set((reduced.length > 0 ? normal : days).map((d) => d.day));
  const periodDays = allDays.length === 0 ? 0 : Math.round((Date.parse(allDays[allDays.length - 1]) - Date.parse(allDays[0])) / 86_400_000) + 1;
  const headroom = estimateHeadroom(meterHours, headroomDays, periodDays, options, lineId);
  const factor = estimateCvrFactor(days, loadIndex, options, lineId);
  return {
    lineId,
    from: allDays[0] ?? null,
    to: allDays[allDays.length - 1] ?? null,
    timeZone,
    days: { total: allDays.length, reduced: reduced.length, normal: normal.length, dropped },
    normalLevelV,
    normalDailyKwh: normal.reduce((s, d) => s + d.energyKwh, 0) / Math.max(1, normal.length),
    headroom,
    factor,
    savings: factor.status === 'estimated' ? periodSavings(days, factor) : null,
    projected: factor.status === 'estimated' ? projectedSavings(days, normalLevelV, headroom.recommendedReductionV, factor) : null,
    daily: days.map(({ day, kind, offDay, energyKwh, meanVoltage, minVoltage, energySource }) => ({ day, kind, offDay, energyKwh, meanVoltage, minVoltage, energySource })),
  };
}

interface NormalDays {
  /** day → [ln E, off day (1/0)] of the line's normal days. */
  days: Map<string, [number, number]>;
}

function normalDayResiduals(classified: ReadonlyMap<string, DayClassification>): Map<string, NormalDays> {
  const result = new Map<string, NormalDays>();
  for (const [lineId, { days }] of classified) {
    result.set(lineId, { days: new Map(days.filter((d) => d.kind === 'normal').map((d) => [d.day, [Math.log(d.energyKwh), d.offDay ? 1 : 0]])) });
  }
  return result;
}

/**
 * The fleet load index for one line: the weather and season common to the region, estimated from
 * the OTHER lines' normal days (never the line's own, whose noise would then sit on both sides
 * of its regression). A one-factor model, fitted by alternating least squares:
 *
 *   ln E_l,d = a_l + b_l·offDay_d + s_l·w_d + e_l,d      (other lines l, their normal days d)
 *
 * w_d is the day's weather, s_l how strongly line l follows it. Which lines ran normal changes
 * from day to day, so a plain mean of their deviations would mix their sensitivities and the
 * weather of the days each line's level was measured on into the index; the factor model does not.
 */
function leaveOneOutIndex(lineId: string, normals: ReadonlyMap<string, NormalDays>): Map<string, number> {
  const others = [...normals.entries()].filter(([other, n]) => other !== lineId && n.days.size >= 3).map(([, n]) => n);
  const allDays = [...new Set(others.flatMap((n) => [...n.days.keys()]))].sort();
  if (others.length === 0) return new Map();
  const fits = others.map(() => ({ a: 0, b: 0, s: 1 }));
  const w = new Map<string, number>(allDays.map((d) => [d, 0]));
  for (let iteration = 0; iteration < 30; iteration++) {
    for (const day of allDays) {
      let num = 0;
      let den = 0;
      others.forEach((n, i) => {
        const row = n.days.get(day);
        if (row === undefined) return;
        const f = fits[i];
        num += f.s * (row[0] - f.a - f.b * row[1]);
        den += f.s * f.s;
      });
      w.set(day, den > 0 ? num / den : 0);
    }
    others.forEach((n, i) => {
      const rows = [...n.days.entries()];
      const offVaries = new Set(rows.map(([, r]) => r[1])).size > 1;
      const x = rows.map(([day, r]) => (offVaries ? [1, r[1], w.get(day)!] : [1, w.get(day)!]));
      try {
        const c = olsCoefficients(x, rows.map(([, r]) => r[0]));
        fits[i] = offVaries ? { a: c[0], b: c[1], s: c[2] } : { a: c[0], b: 0, s: c[1] };
      } catch {
        // too few days for this line: it keeps its last fit
      }
    });
    // The scale of w is arbitrary: keep the mean sensitivity at 1 so the iterations cannot drift.
    const meanS = fits.reduce((sum, f) => sum + f.s, 0) / fits.length;
    if (Math.abs(meanS) > 1e-9) {
      for (const f of fits) f.s /= meanS;
      for (const day of allDays) w.set(day, w.get(day)! * meanS);
    }
  }
  // Only days on which some other line ran normal say anything about the weather.
  return new Map(allDays.filter((day) => others.some((n) => n.days.has(day))).map((day) => [day, w.get(day)!]));
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    let group = groups.get(k);
    if (group === undefined) groups.set(k, (group = []));
    group.push(item);
  }
  return groups;
}

export type { LineDayFigures };
