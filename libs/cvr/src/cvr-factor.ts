import type { ClassifiedDay } from './day-classification';
import type { CvrOptions } from './options';
import { mean, nearestRank, ols, olsCoefficients, SeededRandom, seedOf, studentTQuantile } from './statistics';

export type WeatherControl = 'temperature' | 'fleet-load-index' | 'none';

export interface CvrFactorEstimate {
  status: 'estimated';
  /** %ΔkWh per %ΔV. */
  factor: number;
  /** The `confidence` interval from the regression's standard error (Student t). */
  interval: [number, number];
  standardError: number;
  /** The same confidence from a bootstrap over days (reduced and normal days resampled separately). */
  bootstrapInterval: [number, number];
  confidence: number;
  reducedDays: number;
  normalDays: number;
  /** Mean voltage change of the reduced days against the normal level, per cent (negative). */
  meanReductionPct: number;
  weatherControl: WeatherControl;
  /** `paired-days`: the regression on differences within adjacent reduced/normal pairs; `days`: on the days themselves (too few adjacent pairs). */
  design: 'paired-days' | 'days';
  /** Adjacent reduced/normal pairs found. */
  pairs: number;
  /** The columns of the regression, in order. */
  regressors: string[];
  residualSdPct: number;
}

export interface CvrFactorRefusal {
  status: 'refused';
  reason: string;
  reducedDays: number;
  normalDays: number;
}

export type CvrFactorResult = CvrFactorEstimate | CvrFactorRefusal;

/**
 * A line's CVR factor from its on/off days (the Regional Technical Forum's protocol):
 *
 *   ln E_d = a + b·offDay_d + c·w_d [+ h·HDD_d + k·CDD_d] + f·ln(V_d / V̄_normal) + e_d
 *
 * E_d the line's energy that day, V_d the mean of its meters' voltages, V̄_normal the normal
 * days' level, offDay a weekend or holiday, w_d the weather control: a fleet load index (the
 * weather common to the region, from the other lines' normal days) or, when given, heating and
 * cooling degrees from a daily temperature. Whole days absorb the hour of day (every day
 * contributes each hour once; days with missing hours are dropped before this). f, the
 * elasticity of energy to voltage, is the CVR factor.
 *
 * With a randomised block schedule the model is fitted on the differences within each pair of
 * adjacent reduced/normal days (Δ ln E = b·Δoff + c·Δw + f·Δ ln V + Δe): the pairs are the
 * design's independent units, and whatever drifts slowly cancels within them. Without enough
 * adjacent pairs, on the days themselves.
 */
export function estimateCvrFactor(days: readonly ClassifiedDay[], loadIndex: ReadonlyMap<string, number> | undefined, options: CvrOptions, lineId = ''): CvrFactorResult {
  const temperature = options.temperatureC;
  const weatherControl: WeatherControl = temperature ? 'temperature' : loadIndex && loadIndex.size > 0 ? 'fleet-load-index' : 'none';
  const usable = days.filter((d) => {
    if (weatherControl === 'temperature') return temperature![d.day] !== undefined;
    if (weatherControl === 'fleet-load-index') return loadIndex!.has(d.day);
    return true;
  });
  const reduced = usable.filter((d) => d.kind === 'reduced').length;
  const normal = usable.length - reduced;
  const missing = refusalReason(reduced, normal, usable.length < days.length ? days.length - usable.length : 0, weatherControl, options);
  if (missing) return { status: 'refused', reason: missing, reducedDays: reduced, normalDays: normal };

  const columns: Array<{ name: string; value: (d: ClassifiedDay) => number }> = [
    { name: 'intercept', value: () => 1 },
    { name: 'off-day', value: (d) => (d.offDay ? 1 : 0) },
  ];
  if (weatherControl === 'fleet-load-index') columns.push({ name: 'fleet-load-index', value: (d) => loadIndex!.get(d.day)! });
  if (weatherControl === 'temperature') {
    columns.push({ name: 'heating-degrees', value: (d) => Math.max(0, 18 - temperature![d.day]) });
    columns.push({ name: 'cooling-degrees', value: (d) => Math.max(0, temperature![d.day] - 22) });
  }
  columns.push({ name: 'ln-voltage-ratio', value: (d) => d.voltageChange });
  // A control that does not vary over the days (only weekdays, never hot) cannot be estimated: leave it out.
  const used = columns.filter((c, i) => i === 0 || c.name === 'ln-voltage-ratio' || new Set(usable.map(c.value)).size > 1);
  const last = used.length - 1;
  const pairs = adjacentPairs(usable);
  const paired = pairs.length >= options.minDaysEach;
  // Paired: each row is the later day of a pair minus the earlier (no intercept: it cancels), so
  // what varies slowly — season, a warm week, a customer joining — cancels within the pair and
  // the rows are independent, which is what the interval assumes. Otherwise one row per day.
  type Row = { x: number[]; y: number };
  const rowOf = (d: ClassifiedDay) => ({ x: used.map((c) => c.value(d)), y: Math.log(d.energyKwh) });
  const units: Row[][] = paired ? pairs.map(([a, b]) => [rowOf(a), rowOf(b)]) : usable.map((d) => [rowOf(d)]);
  const toRow = (unit: Row[]): Row => (unit.length === 1 ? unit[0] : { x: unit[1].x.map((v, j) => v - unit[0].x[j]).slice(1), y: unit[1].y - unit[0].y });
  const fitRows = (sample: readonly Row[][]) => {
    const rows = sample.map(toRow);
    return { x: rows.map((r) => r.x), y: rows.map((r) => r.y) };
  };
  const coefficient = paired ? last - 1 : last;
  const regressors = paired ? used.slice(1).map((c) => `Δ${c.name}`) : used.map((c) => c.name);

  const whole = fitRows(units);
  const fit = ols(whole.x, whole.y);
  const factor = fit.coefficients[coefficient];
  const standardError = fit.standardErrors[coefficient];
  const t = studentTQuantile(1 - (1 - options.confidence) / 2, fit.df);

  // Bootstrap over the units (pairs, or days with each kind resampled on its own so every replicate has both).
  const random = new SeededRandom(seedOf(lineId, options.seed));
  const reducedDays = usable.filter((d) => d.kind === 'reduced');
  const groups = paired ? [units] : [units.filter((_, i) => usable[i].kind === 'reduced'), units.filter((_, i) => usable[i].kind === 'normal')];
  const replicates: number[] = [];
  for (let b = 0; b < options.bootstrapReplicates; b++) {
    const sample = groups.flatMap((group) => group.map(() => group[random.below(group.length)]));
    try {
      const { x, y } = fitRows(sample);
      const value = olsCoefficients(x, y)[coefficient];
      if (Number.isFinite(value)) replicates.push(value);
    } catch {
      // a degenerate resample (a control without variation): skip it
    }
  }
  replicates.sort((a, b) => a - b);
  const tail = ((1 - options.confidence) / 2) * 100;

  return {
    status: 'estimated',
    factor,
    interval: [factor - t * standardError, factor + t * standardError],
    standardError,
    bootstrapInterval: [nearestRank(replicates, tail), nearestRank(replicates, 100 - tail)],
    confidence: options.confidence,
    reducedDays: reduced,
    normalDays: normal,
    meanReductionPct: (Math.exp(mean(reducedDays.map((d) => d.voltageChange))) - 1) * 100,
    weatherControl,
    design: paired ? 'paired-days' : 'days',
    pairs: pairs.length,
    regressors,
    residualSdPct: fit.residualSd * 100,
  };
}

/**
 * Calendar-adjacent days of opposite kinds, paired from the earliest on, each day in at most
 * one pair: a randomised block schedule's pairs (or a stretch of alternation in another schedule).
 */
function adjacentPairs(days: readonly ClassifiedDay[]): Array<[ClassifiedDay, ClassifiedDay]> {
  const sorted = [...days].sort((a, b) => (a.day < b.day ? -1 : 1));
  const pairs: Array<[ClassifiedDay, ClassifiedDay]> = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const [a, b] = [sorted[i], sorted[i + 1]];
    if (a.kind !== b.kind && Date.parse(b.day) - Date.parse(a.day) === 86_400_000) {
      pairs.push([a, b]);
      i++;
    }
  }
  return pairs;
}

function refusalReason(reduced: number, normal: number, withoutWeather: number, weather: WeatherControl, options: CvrOptions): string | undefined {
  const need = options.minDaysEach;
  const weatherNote = withoutWeather > 0 ? ` (${withoutWeather} day(s) left out for lack of a ${weather === 'temperature' ? 'temperature' : 'fleet load index: no other line ran normal that day'})` : '';
  if (reduced === 0) {
    return (
      `no reduced days: no day's mean voltage was ${options.reductionThresholdPct} % or more below the normal days', so there is no voltage change to measure the factor from` +
      `${weatherNote}. Run a CVR schedule — pairs of days, one reduced by 2–4 % and one normal, in random order — for at least ${need} pairs`
    );
  }
  if (reduced < need || normal < need) {
    return `too few on/off days: ${reduced} reduced and ${normal} normal complete day(s)${weatherNote}; the factor needs at least ${need} of each — keep the schedule running for ${Math.max(need - reduced, need - normal)} more pair(s) of days`;
  }
  return undefined;
}
