/** ANSI C84.1 Range A lower limit at the service point, 120 V base. */
export const ANSI_RANGE_A_MIN_V = 114;

export interface CvrOptions {
  /** The voltage no meter may go below, volts (ANSI C84.1 Range A: 114). */
  voltageLimitV: number;
  /** Kept above the limit when recommending a setpoint, volts (regulator bandwidth, unseen meters). */
  marginV: number;
  /** A day counts as reduced when its line's mean voltage is at least this many per cent below the normal days' level. */
  reductionThresholdPct: number;
  /** Fewest reduced and fewest normal days the factor is estimated from; below, it is refused with what is missing. */
  minDaysEach: number;
  /** Two-sided confidence of every interval (0.9: a 90 % interval). */
  confidence: number;
  /** Bootstrap replicates (over days) for the headroom's uncertainty and the factor's second interval. */
  bootstrapReplicates: number;
  /** The evening peak, local hours [from, to] inclusive: data that never covers it gets a headroom warning. */
  eveningPeakHours: [number, number];
  /** A period shorter than this many days carries the note that it may miss the season's peak. */
  seasonDays: number;
  /** A line-day is used only with readings in at least this many local hours … */
  minHoursPerDay: number;
  /** … and from at least this fraction of the line's usual number of meters. */
  minMeterFraction: number;
  /** Local days treated like weekend days (`YYYY-MM-DD`). */
  holidays: string[];
  /** Optional daily mean temperature per local day, °C: replaces the fleet load index as the weather control. */
  temperatureC?: Record<string, number>;
  /** Seed of the bootstrap (results are reproducible). */
  seed: number;
}

export const DEFAULT_CVR_OPTIONS: CvrOptions = {
  voltageLimitV: ANSI_RANGE_A_MIN_V,
  marginV: 1,
  reductionThresholdPct: 1,
  minDaysEach: 8,
  confidence: 0.9,
  bootstrapReplicates: 1000,
  eveningPeakHours: [17, 21],
  seasonDays: 90,
  minHoursPerDay: 22,
  minMeterFraction: 0.9,
  holidays: [],
  seed: 12,
};

export function resolveCvrOptions(options: Partial<CvrOptions> = {}): CvrOptions {
  const resolved: CvrOptions = { ...DEFAULT_CVR_OPTIONS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const problems: string[] = [];
  if (!(resolved.marginV >= 0 && resolved.marginV < 10)) problems.push(`marginV must be 0–10 V, got ${resolved.marginV}`);
  if (!(resolved.voltageLimitV > 0)) problems.push(`voltageLimitV must be positive, got ${resolved.voltageLimitV}`);
  if (!(resolved.confidence > 0.5 && resolved.confidence < 1)) problems.push(`confidence must be in (0.5, 1), got ${resolved.confidence}`);
  if (!(Number.isInteger(resolved.minDaysEach) && resolved.minDaysEach >= 3)) problems.push(`minDaysEach must be a whole number ≥ 3, got ${resolved.minDaysEach}`);
  if (!(resolved.reductionThresholdPct > 0)) problems.push(`reductionThresholdPct must be positive, got ${resolved.reductionThresholdPct}`);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  return resolved;
}
