/**
 * Residential daily load curve, a fraction of the line's peak load in [0.3, 1.0].
 *
 * Weekdays: a morning peak around 07:30 and a larger evening peak around 19:00, lowest at night
 * (~03:00). Weekends: a later, broader morning and a busier midday; the same evening peak.
 * All clock times are UTC: the simulated feeder lives in UTC so runs are reproducible on any
 * machine, whatever its time zone.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** A bump centred on `centre` hours, on a 24 h circle so the curve is continuous over midnight. */
function bump(hour: number, centre: number, width: number): number {
  let distance = Math.abs(hour - centre);
  distance = Math.min(distance, 24 - distance);
  return Math.exp(-0.5 * (distance / width) ** 2);
}

function weekdayShape(hour: number): number {
  return 0.28 + 0.32 * bump(hour, 7.5, 1.1) + 0.12 * bump(hour, 13, 3) + 0.62 * bump(hour, 19, 2);
}

function weekendShape(hour: number): number {
  return 0.28 + 0.22 * bump(hour, 9.5, 1.8) + 0.2 * bump(hour, 13.5, 3) + 0.62 * bump(hour, 19, 2);
}

/** Both shapes are scaled by one constant so the busiest moment of the week is exactly 1. */
const PEAK = (() => {
  let max = 0;
  for (let minute = 0; minute < 24 * 60; minute++) {
    max = Math.max(max, weekdayShape(minute / 60), weekendShape(minute / 60));
  }
  return max;
})();

export const LOAD_MIN = 0.3;
export const LOAD_MAX = 1;

/** Load factor at epoch ms `t`. */
export function loadFactor(t: number): number {
  const dayMs = ((t % DAY_MS) + DAY_MS) % DAY_MS;
  const hour = dayMs / HOUR_MS;
  // 1970-01-01 was a Thursday: day 0 → Thursday, so (days + 4) % 7 is 0 for Sunday.
  const weekday = (((Math.floor(t / DAY_MS) + 4) % 7) + 7) % 7;
  const weekend = weekday === 0 || weekday === 6;
  const value = (weekend ? weekendShape(hour) : weekdayShape(hour)) / PEAK;
  return Math.min(LOAD_MAX, Math.max(LOAD_MIN, value));
}
