import type { LineTiming } from './options';

/**
 * A multiset of numbers kept sorted in a Float64Array, in a window [start, start + count) with
 * room on both sides: an update moves whichever side of the changed position is shorter, so the
 * common case of a line's clock — the meter with the oldest maximum reports the newest one —
 * moves a few values, not all of them. Worst case O(n) (one memmove); no allocation once grown.
 */
export class SortedValues {
  private values: Float64Array<ArrayBuffer>;
  private start: number;
  private count = 0;

  constructor(capacity = 8) {
    this.values = new Float64Array(Math.max(4, capacity));
    this.start = this.values.length >> 1;
  }

  get size(): number {
    return this.count;
  }

  /** The lower median (the ⌈n/2⌉-th smallest value); -Infinity when empty. */
  get lowerMedian(): number {
    return this.count === 0 ? -Infinity : this.values[this.start + ((this.count - 1) >> 1)];
  }

  insert(value: number): void {
    // Keep capacity >= 2 × count, so a recentre leaves room for count / 2 more on either side.
    if (2 * (this.count + 1) > this.values.length) this.recentre(this.values.length * 2);
    this.insertAt(this.lowerBound(value), value);
    this.count++;
  }

  /** Removes one occurrence of `value`, which must be present. */
  remove(value: number): void {
    this.removeAt(this.indexOf(value));
    this.count--;
  }

  /** Replaces one occurrence of `old` (which must be present) by `value`. */
  replace(old: number, value: number): void {
    const values = this.values;
    let s = this.start;
    if (values[s] === old && value >= values[s + this.count - 1]) {
      // The smallest becomes the largest (the meter that reported longest ago reports the newest
      // reading): drop the front, append. No search, nothing moves but an occasional recentre.
      if (s + this.count === values.length) {
        this.recentre(values.length);
        s = this.start;
      }
      this.values[s + this.count] = value;
      this.start = s + 1;
      return;
    }
    if (value === old) {
      this.indexOf(old);
      return;
    }
    this.removeAt(this.indexOf(old));
    this.count--;
    this.insertAt(this.lowerBound(value), value);
    this.count++;
  }

  /** The values in ascending order (a copy; for tests and tools). */
  toArray(): number[] {
    return Array.from(this.values.subarray(this.start, this.start + this.count));
  }

  /** Inserts at logical position i (count not yet incremented), moving the shorter side out. */
  private insertAt(i: number, value: number): void {
    const n = this.count;
    if (i < n - i) {
      if (this.start === 0) this.recentre(this.values.length);
      const s = this.start;
      move(this.values, s, s + i, s - 1);
      this.start = s - 1;
    } else {
      if (this.start + n === this.values.length) this.recentre(this.values.length);
      const s = this.start;
      move(this.values, s + i, s + n, s + i + 1);
    }
    this.values[this.start + i] = value;
  }

  /** Removes logical position i (count not yet decremented), closing the gap from the shorter side. */
  private removeAt(i: number): void {
    const s = this.start;
    if (i < this.count - 1 - i) {
      move(this.values, s, s + i, s + 1);
      this.start = s + 1;
    } else {
      move(this.values, s + i + 1, s + this.count, s + i);
    }
  }

  /** Moves the values to the middle of a buffer of `capacity`. */
  private recentre(capacity: number): void {
    const from = this.values;
    const to = capacity === from.length ? from : new Float64Array(capacity);
    const start = (capacity - this.count) >> 1;
    if (to === from) from.copyWithin(start, this.start, this.start + this.count);
    else to.set(from.subarray(this.start, this.start + this.count), start);
    this.values = to;
    this.start = start;
  }

  private indexOf(value: number): number {
    const i = this.lowerBound(value);
    if (i === this.count || this.values[this.start + i] !== value) throw new Error(`SortedValues: ${value} is not present`);
    return i;
  }

  /** First logical index whose value is >= `value` (count when none). */
  private lowerBound(value: number): number {
    const values = this.values;
    const s = this.start;
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[s + mid] < value) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Copies values[from, to) to dest (overlapping is fine): a loop for a few values, memmove (copyWithin) beyond. */
function move(values: Float64Array, from: number, to: number, dest: number): void {
  const n = to - from;
  if (n > 16) {
    values.copyWithin(dest, from, to);
  } else if (dest < from) {
    for (let k = 0; k < n; k++) values[dest + k] = values[from + k];
  } else {
    for (let k = n - 1; k >= 0; k--) values[dest + k] = values[from + k];
  }
}

/** JSON-safe form of a line's clock. */
export interface LineClockSnapshot {
  watermark: number;
  /** The watermark right after the line's last activity: the base the idle advance adds to. */
  watermarkAtActivity: number;
  /** ingestTime of the line's last activity (a reading that was not rejected). */
  lastActivityMs: number;
  /** Time processing stopped since then, which does not count as idle (absent: none). */
  pausedMs?: number;
  /** Highest ingestTime of any of the line's readings: meters expire relative to it. */
  latestIngestTime: number;
  /** latestIngestTime at the last sweep for expired meters. */
  sweptAt: number;
  /** latestIngestTime when the line's progress last changed: what aheadMs projects from. */
  progressChangedAt: number;
  /** Delivery delay (ingestTime − eventTime): EWMA, and the max of the current and previous ingest-time bucket. */
  delay: { ewmaMs: number | null; maxMs: number | null; previousMaxMs: number | null; bucket: number };
  /**
   * Active meters in slot order: [deviceId, highest event time, ingestTime of its last reading].
   * (Meters seen but expired are in LineSnapshot.meters only.)
   */
  active: Array<[string, number, number]>;
}

/** Weight of one reading in the delivery-delay EWMA (about the last 20 readings of the line). */
const DELAY_EWMA_WEIGHT = 0.05;
/** The delivery-delay max covers the current and the previous bucket of this much ingest time. */
export const DELAY_MAX_BUCKET_MS = 30 * 60_000;
/** Expired meters are swept out whenever the line's ingest time moved this share of meterActiveMs. */
const SWEEP_SHARE = 1 / 8;

/**
 * The event-time clock of one line (one collector or head-end: an independent source, like a
 * Flink split with its own watermark).
 *
 * - Progress: the lower median of the highest event times of the line's active meters. A meter
 *   with a fast clock only moves its own maximum, so one device cannot drag the line forward (a
 *   line with one meter is that meter's clock). Active: the meter's last reading was ingested at
 *   most meterActiveMs before the line's latest one; expired meters leave in periodic sweeps (driven
 *   by ingest time, so replay sweeps at the same points), which keeps the cost bounded and lets a
 *   line that resumes after an outage start afresh.
 * - Watermark = progress − outOfOrdernessMs; it never goes back.
 * - Idleness: once the line has had no activity for idleTimeoutMs of its partition's ingest clock
 *   (the highest ingestTime read from the partition: see StreamTopology), its watermark follows it:
 *     watermark = max(watermark, watermarkAtActivity + (ingestClock − lastActivity − idleTimeoutMs))
 *   so a line that went quiet still gets its last windows closed, one idle period late, and a line
 *   that resumes continues from wherever the idle advance got it. A line that is merely late (its
 *   readings keep coming, with old event times) is not idle: its ingest times are current.
 * - How far a reading is ahead of the line (aheadMs): its event time minus where the line is now,
 *   that is its progress plus the ingest time since the progress last moved. Projecting matters:
 *   a line that was silent for 20 minutes, whose meters report every 15 minutes, or that uploads
 *   in bulk an hour late is not "ahead" of itself when it reports again; a fast meter is, by as
 *   much as its clock is fast (O(1): no second order statistic to maintain).
 *
 * All fields are finite once the line has had its first reading (which the topology always
 * observes: there is no other meter to reject it against), so the snapshot is plain JSON.
 */
export class LineClock {
  watermark = -Infinity;
  watermarkAtActivity = -Infinity;
  lastActivityMs: number;
  latestIngestTime: number;
  /** Processing stopped this long since the last activity (StreamTopology.resume): not idle time. */
  private pausedMs = 0;
  private sweptAt: number;
  private delayEwmaMs = NaN;
  private delayMaxMs = -Infinity;
  private previousDelayMaxMs: number | null = null;
  private delayBucket: number;
  /**
   * Every meter seen, in first-seen order → its slot in the columns below, or -1 once expired.
   * One map serves both (the meters a line has had, and the clock's lookup), so a reading costs
   * one hash lookup; columns instead of an object per meter keep the state per meter small.
   */
  private readonly slots = new Map<string, number>();
  private ids: string[] = [];
  /** Per slot: highest event time (rejected readings never count) — */
  private maxEventTime = new Float64Array(8);
  /** — and ingestTime of its last reading (whether it is still active). */
  private lastIngest = new Float64Array(8);
  private activeCount = 0;
  /** The active meters' maxEventTime. */
  private readonly maxima = new SortedValues();
  /** maxima.lowerMedian as of the last update, and the latestIngestTime when it last changed. */
  private lastProgress = -Infinity;
  private progressChangedAt: number;
  private readonly sweepEveryMs: number;

  constructor(
    readonly timing: LineTiming,
    private readonly meterActiveMs: number,
    firstIngestTime: number,
  ) {
    this.lastActivityMs = firstIngestTime;
    this.latestIngestTime = firstIngestTime;
    this.sweptAt = firstIngestTime;
    this.progressChangedAt = firstIngestTime;
    this.delayBucket = Math.floor(firstIngestTime / DELAY_MAX_BUCKET_MS);
    this.sweepEveryMs = Math.max(1_000, meterActiveMs * SWEEP_SHARE);
  }

  /** The line's event-time progress (lower median of the active meters' maxima); -Infinity with no active meter. */
  get progress(): number {
    return this.maxima.lowerMedian;
  }

  get activeMeters(): number {
    return this.activeCount;
  }

  /** Meters the line has had (active or not), in first-seen order. */
  metersSeen(): IterableIterator<string> {
    return this.slots.keys();
  }

  get metersSeenCount(): number {
    return this.slots.size;
  }

  /** The meter's slot: undefined if never seen, -1 if expired, else active. Pass it to aheadMs and observe. */
  slot(deviceId: string): number | undefined {
    return this.slots.get(deviceId);
  }

  /**
   * How far `eventTime` is ahead of where the line is at `ingestTime` (negative: behind); NaN
   * when the line has no other active meter to compare with. `slot` is the reading's meter's.
   */
  aheadMs(slot: number | undefined, eventTime: number, ingestTime: number): number {
    if (this.activeCount - (slot !== undefined && slot >= 0 ? 1 : 0) === 0) return NaN;
    const sinceMs = ingestTime - this.progressChangedAt;
    return eventTime - (sinceMs > 0 ? this.lastProgress + sinceMs : this.lastProgress);
  }

  /**
   * Records a reading that was not rejected (accepted, late or a duplicate): the meter's clock,
   * activity, and the watermark. Returns true when the watermark moved forward.
   */
  observe(slot: number | undefined, deviceId: string, eventTime: number, ingestTime: number): boolean {
    if (slot === undefined || slot < 0) {
      this.activate(deviceId, eventTime, ingestTime);
    } else {
      if (ingestTime > this.lastIngest[slot]) this.lastIngest[slot] = ingestTime;
      const max = this.maxEventTime[slot];
      if (eventTime > max) {
        this.maxima.replace(max, eventTime);
        this.maxEventTime[slot] = eventTime;
      }
    }
    if (ingestTime > this.lastActivityMs) {
      this.lastActivityMs = ingestTime;
      this.pausedMs = 0;
    }
    this.onIngest(ingestTime);
    const advanced = this.updateProgress();
    this.watermarkAtActivity = this.watermark;
    return advanced;
  }

  /**
   * Records a rejected reading: not activity (a line whose only news is a fast meter's readings
   * should go idle, so its windows close), but its ingest time ages the other meters. Returns true
   * when an expiry moved the watermark forward.
   */
  onRejected(ingestTime: number): boolean {
    this.onIngest(ingestTime);
    return this.updateProgress();
  }

  /** Applies the idle rule at ingest clock `nowMs`; true when the watermark moved forward. */
  onIngestClock(nowMs: number): boolean {
    const idleForMs = nowMs - this.lastActivityMs - this.pausedMs - this.timing.idleTimeoutMs;
    if (!(idleForMs > 0)) return false; // also false for idleTimeoutMs = Infinity
    const candidate = this.watermarkAtActivity + idleForMs;
    if (candidate <= this.watermark) return false;
    this.watermark = candidate;
    return true;
  }

  /**
   * Time that passed while nothing ran (see StreamTopology.resume) counts neither towards idleness
   * (until the line's next activity) nor towards a meter's expiry nor as the line moving on. The
   * line's last activity, which the read model shows, stays what it was.
   */
  shiftIngestTime(ms: number): void {
    this.pausedMs += ms;
    this.progressChangedAt += ms;
    for (let slot = 0; slot < this.activeCount; slot++) this.lastIngest[slot] += ms;
  }

  isIdle(nowMs: number): boolean {
    return nowMs - this.lastActivityMs - this.pausedMs > this.timing.idleTimeoutMs;
  }

  /** Adds one delivery delay (ingestTime − eventTime of a reading that was not rejected nor a duplicate). */
  recordDelay(delayMs: number, ingestTime: number): void {
    const bucket = Math.floor(ingestTime / DELAY_MAX_BUCKET_MS);
    if (bucket > this.delayBucket) {
      this.previousDelayMaxMs = bucket === this.delayBucket + 1 && this.delayMaxMs > -Infinity ? this.delayMaxMs : null;
      this.delayBucket = bucket;
      this.delayMaxMs = delayMs;
    } else if (delayMs > this.delayMaxMs) {
      this.delayMaxMs = delayMs; // an older ingest time (rare) counts in the current bucket
    }
    this.delayEwmaMs = this.delayEwmaMs === this.delayEwmaMs ? this.delayEwmaMs + (delayMs - this.delayEwmaMs) * DELAY_EWMA_WEIGHT : delayMs;
  }

  /** EWMA of the delivery delay (ms); NaN before the first reading. */
  get deliveryDelayMs(): number {
    return this.delayEwmaMs;
  }

  /** Highest delivery delay in the line's last 30–60 minutes of ingest time. */
  get deliveryDelayMaxMs(): number {
    return this.previousDelayMaxMs !== null && this.previousDelayMaxMs > this.delayMaxMs ? this.previousDelayMaxMs : this.delayMaxMs;
  }

  snapshot(): LineClockSnapshot {
    const active: Array<[string, number, number]> = [];
    for (let i = 0; i < this.activeCount; i++) active.push([this.ids[i], this.maxEventTime[i], this.lastIngest[i]]);
    return {
      watermark: this.watermark,
      watermarkAtActivity: this.watermarkAtActivity,
      lastActivityMs: this.lastActivityMs,
      ...(this.pausedMs > 0 ? { pausedMs: this.pausedMs } : {}),
      latestIngestTime: this.latestIngestTime,
      sweptAt: this.sweptAt,
      progressChangedAt: this.progressChangedAt,
      // null before the first delay (JSON has no NaN or -Infinity); in practice a line's first reading always counts.
      delay: {
        ewmaMs: Number.isNaN(this.delayEwmaMs) ? null : this.delayEwmaMs,
        maxMs: Number.isFinite(this.delayMaxMs) ? this.delayMaxMs : null,
        previousMaxMs: this.previousDelayMaxMs,
        bucket: this.delayBucket,
      },
      active,
    };
  }

  /** @param seen the meters the line has had, in first-seen order (LineSnapshot.meters). */
  static restore(snapshot: LineClockSnapshot, seen: readonly string[], timing: LineTiming, meterActiveMs: number): LineClock {
    const clock = new LineClock(timing, meterActiveMs, snapshot.latestIngestTime);
    clock.watermark = snapshot.watermark;
    clock.watermarkAtActivity = snapshot.watermarkAtActivity;
    clock.lastActivityMs = snapshot.lastActivityMs;
    clock.pausedMs = snapshot.pausedMs ?? 0;
    clock.sweptAt = snapshot.sweptAt;
    clock.delayEwmaMs = snapshot.delay.ewmaMs ?? NaN;
    clock.delayMaxMs = snapshot.delay.maxMs ?? -Infinity;
    clock.previousDelayMaxMs = snapshot.delay.previousMaxMs;
    clock.delayBucket = snapshot.delay.bucket;
    for (const deviceId of seen) clock.slots.set(deviceId, -1);
    for (const [deviceId, maxEventTime, lastIngestTime] of snapshot.active) clock.activate(deviceId, maxEventTime, lastIngestTime);
    clock.lastProgress = clock.maxima.lowerMedian;
    clock.progressChangedAt = snapshot.progressChangedAt;
    return clock;
  }

  /** Gives a meter the next slot (new, or back after expiring). */
  private activate(deviceId: string, maxEventTime: number, lastIngestTime: number): void {
    const slot = this.activeCount++;
    if (slot === this.maxEventTime.length) {
      this.maxEventTime = grow(this.maxEventTime);
      this.lastIngest = grow(this.lastIngest);
    }
    this.ids[slot] = deviceId;
    this.maxEventTime[slot] = maxEventTime;
    this.lastIngest[slot] = lastIngestTime;
    this.slots.set(deviceId, slot);
    this.maxima.insert(maxEventTime);
  }

  private onIngest(ingestTime: number): void {
    if (ingestTime > this.latestIngestTime) this.latestIngestTime = ingestTime;
    if (this.latestIngestTime - this.sweptAt >= this.sweepEveryMs) this.sweep();
  }

  /** Expires meters silent for meterActiveMs: the last slot moves into the freed one (deterministic, so restore agrees). */
  private sweep(): void {
    const cutoff = this.latestIngestTime - this.meterActiveMs;
    for (let slot = 0; slot < this.activeCount; ) {
      if (this.lastIngest[slot] >= cutoff) {
        slot++;
        continue;
      }
      this.maxima.remove(this.maxEventTime[slot]);
      this.slots.set(this.ids[slot], -1);
      const last = --this.activeCount;
      if (slot !== last) {
        this.ids[slot] = this.ids[last];
        this.maxEventTime[slot] = this.maxEventTime[last];
        this.lastIngest[slot] = this.lastIngest[last];
        this.slots.set(this.ids[slot], slot);
      }
      this.ids.length = last;
    }
    this.sweptAt = this.latestIngestTime;
  }

  /** After the meters changed: notes when the progress moved, advances the watermark; true when it did. */
  private updateProgress(): boolean {
    const progress = this.maxima.lowerMedian;
    if (progress === this.lastProgress) return false;
    this.lastProgress = progress;
    this.progressChangedAt = this.latestIngestTime;
    const candidate = progress - this.timing.outOfOrdernessMs;
    if (candidate <= this.watermark) return false;
    this.watermark = candidate;
    return true;
  }
}

function grow(column: Float64Array): Float64Array<ArrayBuffer> {
  const grown = new Float64Array(column.length * 2);
  grown.set(column);
  return grown;
}
