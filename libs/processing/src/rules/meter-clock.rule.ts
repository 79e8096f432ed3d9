import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { DEFAULT_METER_CLOCK_TOLERANCE_MS } from '../options';
import { AlertBook, type OpenAlert } from './alert-book';
import type { AlertRule, ClockJudgement } from './rule';

export interface MeterClockOptions {
  /** A reading is ahead of its line when aheadMs exceeds this plus the line's own spread (its outOfOrdernessMs). */
  toleranceMs: number;
  /** Raised when this many of the meter's last `ofReadings` readings were ahead... */
  aheadReadings: number;
  ofReadings: number;
  /** ...and cleared after this many consecutive readings that were not. */
  clearReadings: number;
}

export const DEFAULT_METER_CLOCK_OPTIONS: MeterClockOptions = { toleranceMs: DEFAULT_METER_CLOCK_TOLERANCE_MS, aheadReadings: 3, ofReadings: 5, clearReadings: 5 };

export const METER_CLOCK_ALERT_KIND = 'meter-clock';

interface MeterClockState {
  /** Bit i set: the i-th most recent reading was ahead. */
  flags: number;
  /** Readings counted since the meter was first seen ahead (up to ofReadings): how much of `times` is filled. */
  seen: number;
  /** Consecutive readings that were not ahead. */
  calm: number;
  /** Line time (event time − how far ahead) of the last `ofReadings` readings, a ring: times[head] is the oldest. */
  times: number[];
  head: number;
  open: boolean;
}

export interface MeterClockRuleState {
  open: OpenAlert[];
  meters: Array<[string, string, MeterClockState]>;
}

/**
 * `meter-clock`: a meter whose readings keep arriving ahead of its line (a fast clock) — by
 * default 3 of its last 5 readings more than 2 minutes (plus the line's out-of-orderness, see
 * ClockJudgement.spreadMs) ahead, rejected ones included — raises one warning for the meter; 5
 * readings in a row within that clear it. The topology feeds it
 * through onMeterClock (how far each reading is ahead is the line clock's judgement, see LineClock).
 *
 * Times are the line's, not the meter's: the alert's event time is where the line was when the
 * evidence was complete (the raising reading's event time minus how far it was ahead), and the
 * evidence span covers the readings looked at in line time, so a meter 50 minutes fast does not
 * date its alert 50 minutes into the future. Only meters seen ahead are tracked, and dropped again
 * once their last readings were all on time, so the state stays small.
 */
export class MeterClockRule implements AlertRule {
  readonly name = 'meter-clock';
  private readonly book = new AlertBook();
  /** lineId → deviceId → state, only for meters with an ahead reading among their last ones. */
  private readonly lines = new Map<string, Map<string, MeterClockState>>();
  /** Meters tracked: while 0, an on-time reading costs one comparison. */
  private tracked = 0;
  private readonly options: MeterClockOptions;

  constructor(options: Partial<MeterClockOptions> = {}) {
    this.options = { ...DEFAULT_METER_CLOCK_OPTIONS, ...options };
    const { aheadReadings, ofReadings, clearReadings } = this.options;
    if (!(Number.isInteger(ofReadings) && ofReadings >= 1 && ofReadings <= 30 && Number.isInteger(aheadReadings) && aheadReadings >= 1 && aheadReadings <= ofReadings && clearReadings >= 1)) {
      throw new RangeError(`MeterClockRule: need 1 <= aheadReadings <= ofReadings <= 30 and clearReadings >= 1, got ${JSON.stringify(this.options)}`);
    }
  }

  onMeterClock(reading: ReadingEnvelope, clock: Readonly<ClockJudgement>, emit: (alert: AlertEnvelope) => void): void {
    const { toleranceMs, aheadReadings, ofReadings, clearReadings } = this.options;
    const { aheadMs, spreadMs, rejected } = clock;
    const thresholdMs = toleranceMs + spreadMs;
    const ahead = aheadMs > thresholdMs;
    if (!ahead && this.tracked === 0) return;
    const lineId = reading.lineId;
    const deviceId = reading.deviceId ?? reading.body.deviceId;
    let meters = this.lines.get(lineId);
    let state = meters?.get(deviceId);
    if (state === undefined) {
      if (!ahead) return;
      if (meters === undefined) this.lines.set(lineId, (meters = new Map()));
      state = { flags: 0, seen: 0, calm: 0, times: new Array<number>(ofReadings).fill(0), head: 0, open: false };
      meters.set(deviceId, state);
      this.tracked++;
    }
    const lineTime = aheadMs > 0 ? reading.eventTime - aheadMs : reading.eventTime;
    state.times[state.head] = lineTime;
    state.head = (state.head + 1) % ofReadings;
    if (state.seen < ofReadings) state.seen++;
    state.flags = ((state.flags << 1) | (ahead ? 1 : 0)) & ((1 << ofReadings) - 1);
    state.calm = ahead ? 0 : state.calm + 1;

    const subject = { lineId, deviceId };
    if (!state.open && popcount(state.flags) >= aheadReadings) {
      state.open = true;
      this.book.raise(
        subject,
        METER_CLOCK_ALERT_KIND,
        'warning',
        `Meter ${deviceId} on line ${lineId}: clock ahead of its line by ${duration(aheadMs)} in ${popcount(state.flags)} of its last ${state.seen} readings ` +
          `(tolerance ${duration(thresholdMs)})${rejected ? '; this reading was too far ahead and was rejected' : ''}; check the meter's time source`,
        this.evidence(state, reading, aheadMs, thresholdMs),
        lineTime,
        reading.ingestTime,
        emit,
      );
    } else if (state.open && state.calm >= clearReadings) {
      state.open = false;
      this.book.clear(
        subject,
        METER_CLOCK_ALERT_KIND,
        `Meter ${deviceId} on line ${lineId}: clock in line with its neighbours again (${state.calm} readings in a row within ${duration(thresholdMs)})`,
        this.evidence(state, reading, aheadMs, thresholdMs),
        lineTime,
        reading.ingestTime,
        emit,
      );
    }
    if (!state.open && state.flags === 0) {
      meters!.delete(deviceId);
      if (meters!.size === 0) this.lines.delete(lineId);
      this.tracked--;
    }
  }

  onAggregate(_aggregate: AggregateEnvelope, _emit: (alert: AlertEnvelope) => void): void {
    // Judged per reading only.
  }

  openAlerts(): OpenAlert[] {
    return this.book.list();
  }

  snapshot(): MeterClockRuleState {
    const meters: Array<[string, string, MeterClockState]> = [];
    for (const [lineId, m] of this.lines) for (const [deviceId, state] of m) meters.push([lineId, deviceId, { ...state, times: [...state.times] }]);
    return { open: this.book.snapshot(), meters };
  }

  restore(state: unknown): void {
    const s = state as MeterClockRuleState;
    this.book.restore(s.open);
    this.lines.clear();
    this.tracked = 0;
    for (const [lineId, deviceId, meter] of s.meters) {
      let m = this.lines.get(lineId);
      if (m === undefined) this.lines.set(lineId, (m = new Map()));
      m.set(deviceId, { ...meter, times: [...meter.times] });
      this.tracked++;
    }
  }

  /** value: how far this reading is ahead; threshold: the tolerance plus the line's spread; the span: line times of the readings looked at. */
  private evidence(state: MeterClockState, reading: ReadingEnvelope, aheadMs: number, thresholdMs: number) {
    let start = Infinity;
    let end = -Infinity;
    const n = state.times.length;
    for (let k = 1; k <= state.seen; k++) {
      const t = state.times[(state.head - k + n) % n];
      if (t < start) start = t;
      if (t > end) end = t;
    }
    return {
      value: aheadMs,
      threshold: thresholdMs,
      windowStart: start,
      windowEnd: end,
      aheadReadings: popcount(state.flags),
      ofReadings: state.seen,
      meterEventTime: reading.eventTime,
    };
  }
}

function popcount(bits: number): number {
  let n = 0;
  for (let b = bits; b !== 0; b &= b - 1) n++;
  return n;
}

/** Seconds below two minutes, whole minutes above; locale-independent. */
function duration(ms: number): string {
  return Math.abs(ms) < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}
