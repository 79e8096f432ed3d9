/**
 * The utility's local calendar: CVR schedules switch at local midnight and load shapes follow
 * local hours, so every daily and hourly figure is keyed by the local day and hour of a time zone
 * (an IANA name such as `America/Los_Angeles`), computed with `Intl.DateTimeFormat` — the
 * platform's tz database, so daylight-saving changes are handled without a table of our own.
 */

export interface LocalTime {
  /** Local calendar day, `YYYY-MM-DD`. */
  day: string;
  /** Local hour of day, 0–23 (a 23- or 25-hour day at a DST change simply lacks or repeats one). */
  hour: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** Local time minus UTC, ms (−25,200,000 for PDT). */
  offsetMs: number;
}

const QUARTER_HOUR_MS = 15 * 60_000;
const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/**
 * Maps epoch ms to local day, hour and weekday. Formatting a date is slow (microseconds) and runs
 * per reading, so the answer is cached per quarter hour: every zone's offset from UTC is a whole
 * number of quarter hours (Nepal's +05:45 included) and DST changes happen on quarter-hour
 * boundaries, so all instants of one UTC quarter hour share a local day and hour.
 */
export class LocalCalendar {
  readonly timeZone: string;
  private readonly format: Intl.DateTimeFormat;
  private readonly cache = new Map<number, LocalTime>();

  constructor(timeZone = 'UTC') {
    try {
      this.format = new Intl.DateTimeFormat('en-US', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
        weekday: 'short',
      });
    } catch {
      throw new Error(`time zone "${timeZone}" is not an IANA time zone name (e.g. America/Los_Angeles, Europe/Berlin, UTC)`);
    }
    this.timeZone = timeZone;
  }

  at(epochMs: number): LocalTime {
    const bucket = Math.floor(epochMs / QUARTER_HOUR_MS);
    let local = this.cache.get(bucket);
    if (local === undefined) {
      local = this.compute(bucket * QUARTER_HOUR_MS);
      // Bounded: a long run touches a few thousand quarter hours per month; forget them all at once.
      if (this.cache.size >= 100_000) this.cache.clear();
      this.cache.set(bucket, local);
    }
    return local;
  }

  private compute(epochMs: number): LocalTime {
    const parts: Record<string, string> = {};
    for (const part of this.format.formatToParts(epochMs)) parts[part.type] = part.value;
    const hour = Number(parts.hour);
    const wallClock = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), hour, Number(parts.minute));
    return { day: `${parts.year}-${parts.month}-${parts.day}`, hour, weekday: WEEKDAYS[parts.weekday], offsetMs: wallClock - epochMs };
  }
}

/** Saturday and Sunday. Holidays are the utility's to list (`CvrOptions.holidays`). */
export function isWeekend(weekday: number): boolean {
  return weekday === 0 || weekday === 6;
}
