/** What the CVR analysis needs of one reading (a subset of the v1 contract's reading). */
export interface CvrReading {
  lineId: string;
  deviceId: string;
  /** Event time, epoch ms. */
  eventTime: number;
  voltage: number;
  /** kW at the reading. */
  kw?: number;
  /** Cumulative kWh register. */
  kwh?: number;
}

/**
 * One line's hour (UTC hour, so the figures do not depend on a time zone; the analysis maps
 * them to the utility's local days): the derived state CVR analysis keeps for as long as it
 * likes, far beyond raw-reading retention — one record per line and hour, with each meter's
 * lowest voltage in it.
 */
export interface LineHourFigures {
  /** `cvrh:{lineId}:{hourStart}`: writes are idempotent by it. */
  id: string;
  lineId: string;
  /** Epoch ms of the UTC hour's start. */
  hourStart: number;
  readings: number;
  voltageSum: number;
  /** Sum over meters of their register's rise over the intervals that ended in this hour. */
  registerKwh: number;
  registerIntervals: number;
  /** kW × interval over the same intervals (the fallback when meters send no register). */
  kwKwh: number;
  kwIntervals: number;
  /** [deviceId, lowest voltage in the hour], sorted by device id. */
  meterMinima: Array<[string, number]>;
}

/** The accumulator's state as plain JSON: its open hours, and per meter [lineId\0deviceId, last time, last register]. */
export interface CvrHourState {
  lines: Array<Omit<LineHourFigures, 'id'>>;
  meters: Array<[string, number, number | null]>;
}

const HOUR_MS = 3_600_000;
/** A gap longer than this between two readings of a meter is not integrated (the meter was off or silent). */
const MAX_INTEGRATION_GAP_MS = HOUR_MS;

type OpenHour = Omit<LineHourFigures, 'id' | 'meterMinima'> & { meterMinima: Map<string, number> };

/**
 * Folds readings into per-line hourly figures (pure, deterministic). State is bounded: the open
 * hours (one per line and hour not yet closed) and, per meter, its last register and time. A
 * meter's readings must come in event-time order for the energy (an earlier one after a later
 * one still counts for the voltages), as the processor's windows deliver them.
 *
 * The energy of the interval between two readings belongs to the hour of the later one: a
 * register integrates the power of the interval that ends with its reading.
 */
export class CvrHourAccumulator {
  /** lineId → hourStart → open hour. */
  private readonly open = new Map<string, Map<number, OpenHour>>();
  private readonly meters = new Map<string, { lastTime: number; lastKwh: number | null }>();

  add(reading: CvrReading): void {
    const hourStart = Math.floor(reading.eventTime / HOUR_MS) * HOUR_MS;
    let lineHours = this.open.get(reading.lineId);
    if (lineHours === undefined) this.open.set(reading.lineId, (lineHours = new Map()));
    let hour = lineHours.get(hourStart);
    if (hour === undefined) {
      hour = { lineId: reading.lineId, hourStart, readings: 0, voltageSum: 0, registerKwh: 0, registerIntervals: 0, kwKwh: 0, kwIntervals: 0, meterMinima: new Map() };
      lineHours.set(hourStart, hour);
    }
    hour.readings++;
    hour.voltageSum += reading.voltage;
    const previousMin = hour.meterMinima.get(reading.deviceId);
    if (previousMin === undefined || reading.voltage < previousMin) hour.meterMinima.set(reading.deviceId, reading.voltage);

    const meterKey = `${reading.lineId}\u0000${reading.deviceId}`;
    const meter = this.meters.get(meterKey);
    if (meter === undefined) {
      this.meters.set(meterKey, { lastTime: reading.eventTime, lastKwh: reading.kwh ?? null });
      return;
    }
    if (reading.eventTime <= meter.lastTime) return; // out of order or a duplicate: no interval to measure
    const gap = reading.eventTime - meter.lastTime;
    if (gap <= MAX_INTEGRATION_GAP_MS) {
      if (reading.kwh !== undefined && meter.lastKwh !== null) {
        // A register that goes backwards (a replaced meter) counts 0, as the windows' energyKwh does.
        hour.registerKwh += Math.max(0, reading.kwh - meter.lastKwh);
        hour.registerIntervals++;
      }
      if (reading.kw !== undefined) {
        hour.kwKwh += (reading.kw * gap) / HOUR_MS;
        hour.kwIntervals++;
      }
    }
    meter.lastTime = reading.eventTime;
    if (reading.kwh !== undefined) meter.lastKwh = reading.kwh;
  }

  /** Removes and returns the line's hours that end at or before `time` (its watermark), oldest first. */
  closeLine(lineId: string, time: number, into: LineHourFigures[] = []): LineHourFigures[] {
    const lineHours = this.open.get(lineId);
    if (lineHours === undefined) return into;
    const start = into.length;
    for (const [hourStart, hour] of lineHours) {
      if (hourStart + HOUR_MS <= time) {
        into.push(toFigures(hour));
        lineHours.delete(hourStart);
      }
    }
    if (into.length - start > 1) {
      const closed = into.splice(start).sort((a, b) => a.hourStart - b.hourStart);
      into.push(...closed);
    }
    if (lineHours.size === 0) this.open.delete(lineId);
    return into;
  }

  /** Removes and returns every open hour (the end of a batch evaluation), by line and hour. */
  closeAll(): LineHourFigures[] {
    const closed = [...this.open.values()].flatMap((hours) => [...hours.values()]).map(toFigures).sort((a, b) => (a.lineId < b.lineId ? -1 : a.lineId > b.lineId ? 1 : a.hourStart - b.hourStart));
    this.open.clear();
    return closed;
  }

  get openHours(): number {
    let n = 0;
    for (const hours of this.open.values()) n += hours.size;
    return n;
  }

  snapshot(): CvrHourState {
    return {
      lines: [...this.open.values()].flatMap((hours) => [...hours.values()].map((h) => ({ ...h, meterMinima: [...h.meterMinima] }))),
      meters: [...this.meters].map(([key, m]) => [key, m.lastTime, m.lastKwh]),
    };
  }

  static restore(state: CvrHourState | undefined): CvrHourAccumulator {
    const accumulator = new CvrHourAccumulator();
    for (const h of state?.lines ?? []) {
      let hours = accumulator.open.get(h.lineId);
      if (hours === undefined) accumulator.open.set(h.lineId, (hours = new Map()));
      hours.set(h.hourStart, { ...h, meterMinima: new Map(h.meterMinima) });
    }
    for (const [key, lastTime, lastKwh] of state?.meters ?? []) accumulator.meters.set(key, { lastTime, lastKwh });
    return accumulator;
  }
}

function toFigures(hour: OpenHour): LineHourFigures {
  return {
    id: `cvrh:${hour.lineId}:${hour.hourStart}`,
    lineId: hour.lineId,
    hourStart: hour.hourStart,
    readings: hour.readings,
    voltageSum: hour.voltageSum,
    registerKwh: hour.registerKwh,
    registerIntervals: hour.registerIntervals,
    kwKwh: hour.kwKwh,
    kwIntervals: hour.kwIntervals,
    meterMinima: [...hour.meterMinima].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
  };
}
