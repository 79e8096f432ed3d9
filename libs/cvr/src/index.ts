/**
 * @meterstream/cvr — conservation voltage reduction analytics, pure (no I/O, no clock).
 *
 *   const acc = new CvrDailyAccumulator('America/Los_Angeles');
 *   for (const r of readings) acc.add(r);                 // → per-meter hourly minima, per-line daily energy and voltage
 *   const reports = analyseFleet(acc.figures(), { marginV: 1 });
 *
 * Each report: headroom by local hour and the bellwether meters, the safe and the recommended
 * setpoint reduction, the CVR factor from on/off days with its interval (or the reason it is
 * refused), kWh saved over the period and the projected annual savings.
 */
export { LocalCalendar, isWeekend, type LocalTime } from './local-time';
export { CvrHourAccumulator, type CvrHourState, type CvrReading, type LineHourFigures } from './hourly-figures';
export { CvrDailyAccumulator, dailyFigures, type CvrDailyFigures, type EnergySource, type LineDayFigures, type MeterHourMinimum } from './daily-figures';
export { ANSI_RANGE_A_MIN_V, DEFAULT_CVR_OPTIONS, resolveCvrOptions, type CvrOptions } from './options';
export { classifyDays, type ClassifiedDay, type DayClassification, type DayKind } from './day-classification';
export { estimateCvrFactor, type CvrFactorEstimate, type CvrFactorRefusal, type CvrFactorResult, type WeatherControl } from './cvr-factor';
export { estimateHeadroom, type Bellwether, type HeadroomResult, type HeadroomWarning, type HeadroomWarningKind, type HourHeadroom } from './headroom';
export { periodSavings, projectedSavings, type PeriodSavings, type ProjectedSavings } from './savings';
export { analyseFleet, type LineCvrReport } from './fleet-analysis';
export { nearestRank, normalQuantile, studentTQuantile } from './statistics';
