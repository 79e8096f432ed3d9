import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { formatVolts } from './alert-envelope';
import { AlertBook, type OpenAlert } from './alert-book';
import type { AlertRule } from './rule';

export interface MeterHealthOptions {
  /** A meter is stuck after this many consecutive readings with identical voltage, current and kW. */
  stuckReadings: number;
  /** ...and unstuck after this many consecutive readings that changed. */
  unstuckReadings: number;
  /** A meter is stale when its line's fired window ends this long after its last reading (event time). */
  staleAfterMs: number;
}

export const DEFAULT_METER_HEALTH_OPTIONS: MeterHealthOptions = { stuckReadings: 4, unstuckReadings: 2, staleAfterMs: 15 * 60_000 };

interface MeterState {
  lastSeen: number;
  voltage: number;
  current: number | null;
  kw: number | null;
  same: number;
  changed: number;
  firstSameAt: number;
  /** Mirrors of the alert book for this meter, so the per-reading path builds no keys. */
  stuckOpen: boolean;
  staleOpen: boolean;
}

export interface MeterHealthState {
  open: OpenAlert[];
  meters: Array<[string, string, MeterState]>;
}

/**
 * Meters that stop measuring: `meter-stuck` when a meter repeats exactly the same voltage,
 * current and kW reading after reading (a healthy meter's 0.1 V resolution against ±0.25 V of
 * noise, and its load, never repeat together for long), `meter-stale` when a meter falls silent
 * while its line keeps reporting (judged in event time when the line's windows fire, so it is as
 * deterministic as the windows). Both clear when the meter behaves again.
 */
export class MeterHealthRule implements AlertRule {
  readonly name = 'meter-health';
  private readonly book = new AlertBook();
  /** lineId → deviceId → state. */
  private readonly lines = new Map<string, Map<string, MeterState>>();
  private readonly options: MeterHealthOptions;

  constructor(options: Partial<MeterHealthOptions> = {}) {
    this.options = { ...DEFAULT_METER_HEALTH_OPTIONS, ...options };
  }

  onReading(reading: ReadingEnvelope, emit: (alert: AlertEnvelope) => void): void {
    const body = reading.body;
    const deviceId = reading.deviceId ?? body.deviceId;
    let meters = this.lines.get(reading.lineId);
    if (meters === undefined) {
      meters = new Map();
      this.lines.set(reading.lineId, meters);
    }
    const current = typeof body.current === 'number' ? body.current : null;
    const kw = typeof body.kw === 'number' ? body.kw : null;
    const state = meters.get(deviceId);
    if (state === undefined) {
      meters.set(deviceId, { lastSeen: reading.eventTime, voltage: body.voltage, current, kw, same: 0, changed: 0, firstSameAt: reading.eventTime, stuckOpen: false, staleOpen: false });
      return;
    }
    if (reading.eventTime > state.lastSeen) {
      if (state.staleOpen) {
        state.staleOpen = false;
        this.book.clear(
          { lineId: reading.lineId, deviceId },
          'meter-stale',
          `Meter ${deviceId} on line ${reading.lineId} reporting again after ${minutes(reading.eventTime - state.lastSeen)} of silence`,
          { value: reading.eventTime - state.lastSeen, threshold: this.options.staleAfterMs, windowStart: state.lastSeen, windowEnd: reading.eventTime },
          reading.eventTime,
          reading.ingestTime,
          emit,
        );
      }
      state.lastSeen = reading.eventTime;
    }
    const same = body.voltage === state.voltage && current === state.current && kw === state.kw;
    if (same) {
      if (state.same === 0) state.firstSameAt = reading.eventTime;
      state.same++;
      state.changed = 0;
    } else {
      state.same = 0;
      state.changed++;
    }
    state.voltage = body.voltage;
    state.current = current;
    state.kw = kw;
    if (state.same >= this.options.stuckReadings ? state.stuckOpen : !state.stuckOpen || state.changed < this.options.unstuckReadings) return;
    const evidence = () => ({
      value: body.voltage,
      threshold: this.options.stuckReadings,
      repeats: state.same,
      windowStart: state.firstSameAt,
      windowEnd: reading.eventTime,
    });
    if (state.same >= this.options.stuckReadings) {
      state.stuckOpen = true;
      this.book.raise(
        { lineId: reading.lineId, deviceId },
        'meter-stuck',
        'warning',
        `Meter ${deviceId} on line ${reading.lineId} stuck: ${state.same + 1} readings in a row of exactly ${formatVolts(body.voltage)}` +
          `${kw === null ? '' : `, ${kw} kW`}; its values are frozen`,
        evidence(),
        reading.eventTime,
        reading.ingestTime,
        emit,
      );
    } else {
      state.stuckOpen = false;
      this.book.clear({ lineId: reading.lineId, deviceId }, 'meter-stuck', `Meter ${deviceId} on line ${reading.lineId} measuring again (values changed)`, evidence(), reading.eventTime, reading.ingestTime, emit);
    }
  }

  onAggregate(aggregate: AggregateEnvelope, emit: (alert: AlertEnvelope) => void): void {
    const body = aggregate.body;
    if (body.deviceId !== undefined) return;
    const meters = this.lines.get(body.lineId);
    if (meters === undefined) return;
    const cutoff = body.windowEnd - this.options.staleAfterMs;
    for (const [deviceId, state] of meters) {
      if (state.lastSeen >= cutoff || state.staleOpen) continue;
      state.staleOpen = true;
      this.book.raise(
        { lineId: body.lineId, deviceId },
        'meter-stale',
        'info',
        `Meter ${deviceId} on line ${body.lineId} silent for ${minutes(body.windowEnd - state.lastSeen)} while the line reports`,
        { value: body.windowEnd - state.lastSeen, threshold: this.options.staleAfterMs, windowStart: state.lastSeen, windowEnd: body.windowEnd },
        body.windowStart,
        aggregate.ingestTime,
        emit,
      );
    }
  }

  openAlerts(): OpenAlert[] {
    return this.book.list();
  }

  snapshot(): MeterHealthState {
    const meters: Array<[string, string, MeterState]> = [];
    for (const [lineId, m] of this.lines) for (const [deviceId, state] of m) meters.push([lineId, deviceId, { ...state }]);
    return { open: this.book.snapshot(), meters };
  }

  restore(state: unknown): void {
    const s = state as MeterHealthState;
    this.book.restore(s.open);
    this.lines.clear();
    for (const [lineId, deviceId, meter] of s.meters) {
      let m = this.lines.get(lineId);
      if (m === undefined) this.lines.set(lineId, (m = new Map()));
      m.set(deviceId, { ...meter });
    }
  }
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m === 1 ? '1 minute' : `${m} minutes`;
}
