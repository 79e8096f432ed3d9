/** What a simulated CVR programme looks like (`SimulatorOptions.cvr`). */
export interface CvrSimulationSpec {
  /**
   * Each line's true CVR factor: one per line (by index), or a range the lines are spread over
   * evenly in a shuffled order (default 0.4–1.1).
   */
  factors?: number[] | { min: number; max: number };
  /** How far a reduced day lowers the substation setpoint, per cent; each line draws its own (default 2–4). */
  reductionPct?: { min: number; max: number };
  /** The utility's time zone: schedules switch at its local midnight (default UTC). */
  timeZone?: string;
  /**
   * Day-to-day weather: the standard deviation of the fleet's daily load level (log, default 0.06),
   * its day-to-day correlation (default 0.7) and each line's own daily noise on top (log, default
   * 0.002 — quieter than most real feeders, whose 1–3 % need proportionally more days).
   */
  weather?: { sigma?: number; correlation?: number; lineNoise?: number };
  /** The schedule starts on the local day of this time (epoch ms, default the run's start); earlier days run normal. */
  scheduleStart?: number;
}

export interface CvrLineTruth {
  lineId: string;
  /** 2Z + I of its load. */
  trueFactor: number;
  zip: { z: number; i: number; p: number };
  reductionPct: number;
  /** Volts the head comes down on a reduced day. */
  reductionV: number;
  /** Normal substation setpoint, volts. */
  substationV: number;
  /** Drop from the head to the end of the line at peak load, volts. */
  dropAtPeakV: number;
  /** Local days (`YYYY-MM-DD`) run reduced so far. */
  reducedDays: string[];
  /** Local days of the schedule run at the normal setpoint so far. */
  normalDays: string[];
  /** Energy the line used on its reduced days, kWh (as measured). */
  reducedDaysKwh: number;
  /** What those days would have used at the normal setpoint — the same days simulated at both setpoints. */
  counterfactualKwh: number;
  /** counterfactualKwh − reducedDaysKwh. */
  savedKwh: number;
}

export interface CvrTruth {
  timeZone: string;
  lines: CvrLineTruth[];
  /** Each local day's fleet weather level (log of the load multiplier before line sensitivity) and a temperature consistent with it, °C. */
  weather: Array<{ day: string; level: number; temperatureC: number }>;
}
