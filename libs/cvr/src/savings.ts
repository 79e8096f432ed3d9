import type { CvrFactorEstimate } from './cvr-factor';
import type { ClassifiedDay } from './day-classification';

export interface PeriodSavings {
  /** kWh the reduced days saved against their counterfactual at the normal level. */
  kwh: number;
  interval: [number, number];
  /** Per cent of the counterfactual energy of those days. */
  pct: number;
  reducedDays: number;
}

export interface ProjectedSavings {
  /** The reduction the projection assumes, volts at every meter. */
  reductionV: number;
  reductionPct: number;
  annualKwh: number;
  annualKwhInterval: [number, number];
  pct: number;
  pctInterval: [number, number];
}

/**
 * kWh saved over the period: each reduced day against its counterfactual at the normal level,
 * E_d·(e^(−f·x_d) − 1), with x_d = ln(V_d / V̄_normal) < 0 (the regression's own model of that
 * day). The interval is the same sum at the ends of f's interval (it rises with f).
 */
export function periodSavings(days: readonly ClassifiedDay[], factor: CvrFactorEstimate): PeriodSavings {
  const reduced = days.filter((d) => d.kind === 'reduced');
  const at = (f: number) => reduced.reduce((s, d) => s + d.energyKwh * (Math.exp(-f * d.voltageChange) - 1), 0);
  const kwh = at(factor.factor);
  const counterfactual = reduced.reduce((s, d) => s + d.energyKwh * Math.exp(-factor.factor * d.voltageChange), 0);
  return { kwh, interval: [at(factor.interval[0]), at(factor.interval[1])], pct: counterfactual > 0 ? (kwh / counterfactual) * 100 : 0, reducedDays: reduced.length };
}

/**
 * Projected annual savings at a reduction of r volts from the normal setpoint: the normal days'
 * mean daily energy Ē × 365 × (1 − ((V̄ − r)/V̄)^f). Assumes the period's load is typical of
 * the year (a season's data projects that season).
 */
export function projectedSavings(days: readonly ClassifiedDay[], normalLevelV: number, reductionV: number, factor: CvrFactorEstimate): ProjectedSavings {
  const normal = days.filter((d) => d.kind === 'normal');
  const dailyKwh = normal.reduce((s, d) => s + d.energyKwh, 0) / Math.max(1, normal.length);
  const ratio = (normalLevelV - reductionV) / normalLevelV;
  const share = (f: number) => 1 - ratio ** f;
  return {
    reductionV,
    reductionPct: (reductionV / normalLevelV) * 100,
    annualKwh: dailyKwh * 365 * share(factor.factor),
    annualKwhInterval: [dailyKwh * 365 * share(factor.interval[0]), dailyKwh * 365 * share(factor.interval[1])],
    pct: share(factor.factor) * 100,
    pctInterval: [share(factor.interval[0]) * 100, share(factor.interval[1]) * 100],
  };
}
