import { CvrHourAccumulator, type CvrReading, type LineHourFigures } from './hourly-figures';
import { LocalCalendar } from './local-time';

/** A meter's lowest voltage in one local hour: the per-meter state headroom needs. */
export interface MeterHourMinimum {
  lineId: string;
  deviceId: string;
  /** Local day `YYYY-MM-DD`. */
  day: string;
  /** Local hour 0–23. */
  hour: number;
  minVoltage: number;
}

export type EnergySource = 'kwh-register' | 'kw-mean';

/** One line's local day: the energy and voltage the on/off regression works on. */
export interface LineDayFigures {
  lineId: string;
  day: string;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  readings: number;
  /** Meters that reported that day. */
  meters: number;
  /** Distinct local hours with readings (24 on a full day; 23/25 on DST days count their own). */
  hours: number;
  /** Sum over meters of the energy used that day. */
  energyKwh: number;
  /** Register deltas when the meters send a register; otherwise kW integrated over the reading intervals. */
  energySource: EnergySource;
  meanVoltage: number;
  minVoltage: number;
}

export interface CvrDailyFigures {
  timeZone: string;
  lineDays: LineDayFigures[];
  meterHours: MeterHourMinimum[];
}

/**
 * The utility's local days from per-line hourly figures: each UTC hour goes to the local day and
 * hour its start falls in (exact for zones whose offset is a whole number of hours; in a
 * half-hour zone such as India's, a day's boundary is off by half an hour).
 */
export function dailyFigures(hours: readonly LineHourFigures[], timeZone = 'UTC'): CvrDailyFigures {
  const calendar = new LocalCalendar(timeZone);
  const days = new Map<string, { figures: LineDayFigures; meters: Set<string>; hours: Set<number>; voltageSum: number; registerKwh: number; registerIntervals: number; kwKwh: number; kwIntervals: number }>();
  const meterHours = new Map<string, MeterHourMinimum>();
  for (const h of hours) {
    const local = calendar.at(h.hourStart);
    const key = `${h.lineId}\u0000${local.day}`;
    let day = days.get(key);
    if (day === undefined) {
      day = {
        figures: { lineId: h.lineId, day: local.day, weekday: local.weekday, readings: 0, meters: 0, hours: 0, energyKwh: 0, energySource: 'kwh-register', meanVoltage: 0, minVoltage: Number.POSITIVE_INFINITY },
        meters: new Set(),
        hours: new Set(),
        voltageSum: 0,
        registerKwh: 0,
        registerIntervals: 0,
        kwKwh: 0,
        kwIntervals: 0,
      };
      days.set(key, day);
    }
    day.figures.readings += h.readings;
    day.voltageSum += h.voltageSum;
    day.registerKwh += h.registerKwh;
    day.registerIntervals += h.registerIntervals;
    day.kwKwh += h.kwKwh;
    day.kwIntervals += h.kwIntervals;
    day.hours.add(local.hour);
    for (const [deviceId, v] of h.meterMinima) {
      day.meters.add(deviceId);
      day.figures.minVoltage = Math.min(day.figures.minVoltage, v);
      const mk = `${h.lineId}\u0000${deviceId}\u0000${local.day}\u0000${local.hour}`;
      const existing = meterHours.get(mk);
      if (existing === undefined) meterHours.set(mk, { lineId: h.lineId, deviceId, day: local.day, hour: local.hour, minVoltage: v });
      else existing.minVoltage = Math.min(existing.minVoltage, v);
    }
  }
  const lineDays = [...days.values()]
    .map((d) => {
      // The register wins when it measured (nearly) every interval the kW did: it is what billing uses.
      const register = d.registerIntervals > 0 && d.registerIntervals >= 0.9 * d.kwIntervals;
      return {
        ...d.figures,
        meters: d.meters.size,
        hours: d.hours.size,
        energyKwh: register ? d.registerKwh : d.kwKwh,
        energySource: (register ? 'kwh-register' : 'kw-mean') as EnergySource,
        meanVoltage: d.voltageSum / d.figures.readings,
      };
    })
    .sort((a, b) => compare(a.lineId, b.lineId) || compare(a.day, b.day));
  const sortedMeterHours = [...meterHours.values()].sort((a, b) => compare(a.lineId, b.lineId) || compare(a.deviceId, b.deviceId) || compare(a.day, b.day) || a.hour - b.hour);
  return { timeZone: calendar.timeZone, lineDays, meterHours: sortedMeterHours };
}

/** Readings straight to daily figures (a batch: every hour closed at the end). */
export class CvrDailyAccumulator {
  private readonly hours = new CvrHourAccumulator();
  private readonly closed: LineHourFigures[] = [];

  constructor(readonly timeZone = 'UTC') {
    new LocalCalendar(timeZone); // refuse a bad zone now, not at the end
  }

  add(reading: CvrReading): void {
    this.hours.add(reading);
  }

  figures(): CvrDailyFigures {
    this.closed.push(...this.hours.closeAll());
    return dailyFigures(this.closed, this.timeZone);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
