import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { CvrHourAccumulator, type LineHourFigures } from '@meterstream/cvr';
import { LineClock } from './line-clock';
import { resolveLineTiming, resolveProcessorOptions, type ProcessorOptions, type ResolvedProcessorOptions } from './options';
import type { AlertRule, ClockJudgement } from './rules/rule';
import type { VoltageModelVersion } from './model/model-version';
import { VoltageLimitRule } from './rules/voltage-limit.rule';
import { VoltageModelRule } from './rules/voltage-model.rule';
import { PROCESSOR_SNAPSHOT_VERSION, type ProcessorSnapshot } from './snapshot';
import { LineWindow } from './windows/line-window';
import { WindowAssigner } from './windows/window-assigner';
import { WindowTimers } from './windows/window-timers';

/** What the topology emitted since the last takeOutput(), in emission order per stream. */
export interface ProcessorOutput {
  /** Final window aggregates, ordered by (windowEnd, lineId, deviceId) within each firing. */
  aggregates: AggregateEnvelope[];
  /** Alert state changes caused by those aggregates. */
  alerts: AlertEnvelope[];
  /** Side output: readings that arrived after their window fired (never merged). */
  late: ReadingEnvelope[];
  /**
   * Side output: readings too far ahead of their line (a fast meter clock), never windowed; the
   * runtime dead-letters them. takeOutput() always sets it; optional here only so that outputs a
   * runtime assembles itself (several topologies' outputs concatenated) still type-check.
   */
  rejected?: RejectedReading[];
  /**
   * Per line and UTC hour, the figures CVR analysis keeps (energy, voltage, each meter's lowest
   * reading), once the line's watermark has passed the hour: derived state the read model keeps
   * beyond raw-reading retention. Optional for the same reason as `rejected`.
   */
  cvrHours?: LineHourFigures[];
}

/** A reading the topology refused to window, and why (fit for a dead letter). */
export interface RejectedReading {
  reading: ReadingEnvelope;
  reason: string;
}

/** The per-line figures a read model keeps, as lineFigures() hands them out. */
export interface LineFigures {
  lineId: string;
  late: number;
  duplicates: number;
  /** Delivery delay (ms): rounded moving average and recent maximum; not finite before the line's first timely reading. */
  deliveryDelayMs: number;
  deliveryDelayMaxMs: number;
  /** The ingest time of the line's latest reading: when the delay was measured. */
  lastIngestTime: number;
}

/** One line's clock, for metrics and operators. */
export interface LineClockStats {
  /** The line's watermark (epoch ms). */
  watermark: number;
  /** The partition the line's latest reading came from (whose ingest clock judges it idle). */
  partition: string;
  /** The line's event-time progress: lower median of its active meters' newest readings; null with no active meter. */
  eventTimeMs: number | null;
  /** Meters taking part in the line's clock (see ProcessorOptions.meterActiveMs). */
  activeMeters: number;
  /** ingestTime of the line's last activity. */
  lastIngestTime: number;
  /** No activity for the line's idleTimeoutMs of its partition's ingest clock: its watermark follows that clock. */
  idle: boolean;
  /**
   * How late the line's readings arrive (ingestTime − eventTime): EWMA over recent readings, ms.
   * Readings judged ahead of their line (a fast meter clock) do not count.
   */
  deliveryDelayMs: number;
  /** The highest delivery delay over the line's last 30–60 minutes of ingest time, ms. */
  deliveryDelayMaxMs: number;
  /** Readings rejected as too far ahead of the line. */
  rejected: number;
}

/** Memory and data-quality figures, cheap enough for a metrics scrape. */
export interface ProcessorStats {
  /** Open windows, counting per-meter windows too. */
  openWindows: number;
  /** Envelope ids held for duplicate detection. */
  trackedIds: number;
  /** Lines seen. */
  lines: number;
  /** Distinct meters seen. */
  meters: number;
  lateCounts: Record<string, number>;
  duplicateCounts: Record<string, number>;
  /** Current watermark per line (epoch ms). */
  watermarks: Record<string, number>;
  /**
   * Per line: watermark, delivery delay, active meters, idleness. stats() always sets it; optional
   * here only so that stats a runtime merges itself still type-check.
   */
  lineClocks?: Record<string, LineClockStats>;
  /** Ingest clock per partition (highest ingestTime read from it, or handed to advanceProcessingTime). Always set by stats(). */
  ingestClocks?: Record<string, number>;
}

/** A partition's ingest clock, and the lines it judges idle. */
interface PartitionState {
  readonly partition: string;
  /** Highest ingestTime read from the partition, or handed to advanceProcessingTime. */
  ingestClockMs: number;
  /** The ingest clock at the last check for idle lines (checks are spaced out). */
  idleCheckedAtMs: number;
  /** The lines whose latest reading came from this partition. */
  readonly lines: LineState[];
  /** Restored, not yet caught up: how much of the stop a jump of the ingest clock may still be (see resume()). Not part of the snapshot. */
  pauseMs?: number;
}

interface LineState {
  readonly lineId: string;
  /** Where the line's latest reading came from. */
  partition: PartitionState;
  /** The line's meters' clocks, watermark and timing. */
  readonly clock: LineClock;
  /** The line's open windows by end: what its watermark fires. */
  readonly timers: WindowTimers;
  /** Open windows by start. */
  readonly windows: Map<number, LineWindow>;
  late: number;
  duplicates: number;
  rejected: number;
}

/** A partition's ingest clock must move this much before its idle lines are looked at again (keeps it off the per-reading path). */
const IDLE_CHECK_EVERY_MS = 1_000;

/**
 * The processing core: per-line event-time windows, per-line watermarks, late, duplicate and
 * fast-clock handling, and alert rules. Pure and synchronous: no I/O, no clock; time comes from
 * the readings (eventTime from the meter, ingestTime from the server that received it) and from
 * the runtime's advanceProcessingTime.
 *
 * Runtime contract:
 * - process(partition, reading) for every reading, in log order per partition (nowMs is not
 *   used: the readings' ingestTime is the clock, so a replay computes what the live run did; the
 *   partition only keys the ingest clocks, see idle lines below);
 * - advanceProcessingTime(now) ONLY when the input is caught up (a poll returned nothing): then
 *   nothing ingested before `now` is still unread, so moving the ingest clocks to `now` is what the
 *   readings themselves would have done, and a replay (which never waits) and a live run agree.
 *   Called while behind, it would make every line whose backlog is unread look idle. (idleTimeoutMs
 *   must exceed the ingest-to-log latency and the skew between the ingest servers' clocks and the
 *   processor's.)
 * - takeOutput() after a batch, write it (dead-letter `rejected`), then snapshot() together with
 *   the input positions.
 *
 * Semantics:
 * - Each line has its own clock (see LineClock): progress = lower median of its active meters'
 *   newest event times, watermark = progress − outOfOrdernessMs(line), never going back. Lines
 *   that share a partition never make each other late, and one meter with a fast clock cannot
 *   move its line. Per-line timing: ProcessorOptions.lineTiming.
 * - A reading more than clockAheadLimitMs (plus the line's outOfOrdernessMs: its own disorder,
 *   see ClockJudgement) ahead of its line's other meters is rejected (the `rejected` output): not
 *   windowed, and it does not move its meter's clock. One less far ahead is windowed normally;
 *   its (future) window waits for the line's watermark like any other.
 * - An event is accepted whole or not at all: it is late when the earliest window it belongs to
 *   has fired (its line's watermark, before the event moves it, >= that window's end +
 *   allowedLateness(line)). Late events go to the `late` side output and lateCounts; with hopping
 *   windows this means an event is never counted in some of its windows but not others.
 * - Duplicates (same envelope id) are recognised while the event's earliest window is open; after
 *   that a redelivery is indistinguishable from a late event and is treated as late.
 * - A window fires exactly once, when its line's watermark reaches end + allowedLateness(line).
 *   Windows fired together are emitted in (windowEnd, lineId) order.
 * - Idle lines: each partition has an ingest clock, the highest ingestTime read from it (or
 *   handed to advanceProcessingTime). A line without activity for idleTimeoutMs(line) of its
 *   partition's clock has its watermark follow that clock (see LineClock), so its last windows
 *   close. Per partition, not one clock for all: a partition's log order is the one order that is
 *   the same live and in a replay, whereas how far one partition is read ahead of another depends
 *   on the runtime's batches (after a restart, one batch can hold minutes of one partition's
 *   backlog before another's: one clock would make the other partition's lines look idle). The
 *   clock moves before a reading is judged, as it would have live; idle lines are looked at
 *   whenever a partition's clock has moved IDLE_CHECK_EVERY_MS, and at every advanceProcessingTime.
 *   Clocks are monotonic: a smaller time than seen before counts as no time passing.
 */
export class StreamTopology {
  private readonly options: ResolvedProcessorOptions;
  private readonly assigner: WindowAssigner;
  private readonly rules: AlertRule[];
  /** The rules that look at single readings (the model, meter health), in rule order. */
  private readonly readingRules: AlertRule[];
  /** The rules that look at readings' clocks against their line's (meter clock), in rule order. */
  private readonly clockRules: AlertRule[];
  private readonly lines = new Map<string, LineState>();
  private readonly partitions = new Map<string, PartitionState>();

  private aggregates: AggregateEnvelope[] = [];
  private alerts: AlertEnvelope[] = [];
  private late: ReadingEnvelope[] = [];
  private rejected: RejectedReading[] = [];
  private cvrHours: LineHourFigures[] = [];
  /** Accepted readings folded into hourly CVR figures; an hour is emitted when its line's watermark passes it. */
  private cvrAccumulator = new CvrHourAccumulator();
  private readonly fired: LineWindow[] = [];
  /** Handed to the clock rules; reused, so judging a reading allocates nothing. */
  private readonly judgement: ClockJudgement = { aheadMs: 0, spreadMs: 0, rejected: false };
  private readonly emitAlert = (alert: AlertEnvelope): void => {
    this.alerts.push(alert);
  };

  /**
   * @param snapshot state from snapshot() of a topology with the same window shape; continue from it.
   * @param rules alert rules; default: only the ANSI C84.1 VoltageLimitRule built from options
   *   (the runtime passes createAlertRules(...): limits, the voltage model, meter health and clocks).
   */
  constructor(options: ProcessorOptions, snapshot?: ProcessorSnapshot, rules?: AlertRule[]) {
    this.options = resolveProcessorOptions(options);
    this.assigner = new WindowAssigner(this.options.windowSizeMs, this.options.hopMs);
    this.rules = rules ?? [new VoltageLimitRule(this.options)];
    const names = new Set(this.rules.map((rule) => rule.name));
    if (names.size !== this.rules.length) throw new Error('Alert rules must have distinct names (they key the rule state in snapshots)');
    this.readingRules = this.rules.filter((rule) => rule.onReading !== undefined);
    this.clockRules = this.rules.filter((rule) => rule.onMeterClock !== undefined);
    if (snapshot !== undefined) this.restore(snapshot);
  }

  get resolvedOptions(): Readonly<ResolvedProcessorOptions> {
    return this.options;
  }

  /**
   * Feeds one reading from `partition` (in the partition's log order). Output is buffered.
   * `_nowMs` is kept for the runtimes' call sites and not used: the reading's ingestTime is the clock.
   */
  process(partition: string, reading: ReadingEnvelope, _nowMs?: number): void {
    const eventTime = reading.eventTime;
    const ingestTime = reading.ingestTime;
    const part = this.partitions.get(partition) ?? this.addPartition(partition);
    // The partition's clock reaches this reading's ingest time first: what a live run, caught up
    // just before the reading arrived, would have done to idle lines (this one's included).
    if (ingestTime > part.ingestClockMs) {
      if (part.pauseMs) skipStop(part, ingestTime);
      part.ingestClockMs = ingestTime;
      if (ingestTime - part.idleCheckedAtMs >= IDLE_CHECK_EVERY_MS) this.checkIdleLines(part);
    }
    let line = this.lines.get(reading.lineId);
    if (line === undefined) line = this.addLine(reading.lineId, ingestTime, part);
    else if (line.partition !== part) moveLine(line, part);
    const clock = line.clock;
    const deviceId = reading.deviceId ?? reading.body.deviceId;
    const slot = clock.slot(deviceId);
    const aheadMs = clock.aheadMs(slot, eventTime, ingestTime); // NaN: nobody to compare with
    let advanced: boolean;
    // Beyond the limit on top of the line's own disorder (see ClockJudgement.spreadMs).
    if (aheadMs > this.options.clockAheadLimitMs + clock.timing.outOfOrdernessMs) {
      line.rejected++;
      this.rejected.push({ reading, reason: `clock ahead of its line: ${Math.round(aheadMs / 1000)} s ahead of the line's other meters` });
      this.judgeClock(clock, reading, aheadMs, true);
      advanced = clock.onRejected(ingestTime);
    } else {
      // Judge lateness by the line's watermark *before* this event moves it (as Flink does).
      const firstEnd = this.assigner.firstWindowEnd(eventTime);
      if (firstEnd + clock.timing.allowedLatenessMs <= clock.watermark) {
        line.late++;
        this.late.push(reading);
        this.onCounted(clock, reading, aheadMs);
      } else if (this.merge(line, reading, deviceId, firstEnd - this.options.windowSizeMs)) {
        this.onCounted(clock, reading, aheadMs);
        const body = reading.body;
        this.cvrAccumulator.add({ lineId: reading.lineId, deviceId, eventTime, voltage: body.voltage, kw: body.kw, kwh: body.kwh });
        for (const rule of this.readingRules) rule.onReading!(reading, this.emitAlert);
      }
      advanced = clock.observe(slot, deviceId, eventTime, ingestTime);
    }
    if (advanced) {
      line.timers.popDue(clock.watermark - clock.timing.allowedLatenessMs, this.fired);
      this.cvrAccumulator.closeLine(line.lineId, clock.watermark - clock.timing.allowedLatenessMs, this.cvrHours);
    }
    this.emitFired();
  }

  /**
   * Moves every partition's ingest clock to nowMs (if that is later) and lets lines idle for longer
   * than their idleTimeoutMs advance their watermark (see LineClock), firing what that makes due.
   * Call only when the input is caught up (see the class comment). A smaller nowMs than a clock
   * counts as no time passing.
   */
  advanceProcessingTime(nowMs: number): void {
    for (const part of this.partitions.values()) {
      if (nowMs > part.ingestClockMs) {
        if (part.pauseMs) skipStop(part, nowMs);
        part.ingestClockMs = nowMs;
      }
      part.pauseMs = 0;
      this.checkIdleLines(part);
    }
    this.emitFired();
  }

  /**
   * Call after restoring a checkpoint, with `stoppedMs` the processing time between the
   * checkpoint's save and now (a restart: how long processing was stopped; 0 for a rollback).
   * Until the next advanceProcessingTime — the first moment the runtime is caught up again — a
   * partition whose ingest clock jumps by more than a line's idleTimeoutMs takes up to stoppedMs
   * of that jump as the stop, not as silence, for that line: nothing ran in between (on
   * `npm start`, nothing was ingested either). Without it, the first empty poll after a restart
   * (or the first reading after the gap) made every line look idle for the whole downtime and
   * fired its open windows with only the readings before the stop, and the readings that followed
   * them were late. Silence before the stop still counts (input that ended long ago closes its
   * last windows as in an uninterrupted run); steps inside a backlog are ingest time and count as
   * before; a line that stays silent after the restart goes idle idleTimeoutMs later, as usual. A
   * replay reading through the same gap later sees it as silence (see the class comment:
   * processing time is the one thing a replay cannot repeat).
   */
  resume(stoppedMs: number): void {
    for (const part of this.partitions.values()) part.pauseMs = stoppedMs > 0 ? stoppedMs : 0;
  }

  /**
   * Installs a published model version in every rule that has a model. Takes effect for the next
   * reading; the version is part of the state from then on (snapshot) and named in alert evidence.
   */
  installModel(model: VoltageModelVersion): void {
    for (const rule of this.rules) rule.installModel?.(model);
  }

  /** The installed model version (0: online learning only, or no model-based rule). */
  get modelVersion(): number {
    for (const rule of this.rules) if (rule instanceof VoltageModelRule) return rule.version;
    return 0;
  }

  /** Returns everything emitted since the last call and clears the buffers. */
  takeOutput(): Required<ProcessorOutput> {
    const output = { aggregates: this.aggregates, alerts: this.alerts, late: this.late, rejected: this.rejected, cvrHours: this.cvrHours };
    this.cvrHours = [];
    this.aggregates = [];
    this.alerts = [];
    this.late = [];
    this.rejected = [];
    return output;
  }

  /** True when output is waiting to be taken. */
  get hasOutput(): boolean {
    return this.aggregates.length > 0 || this.alerts.length > 0 || this.late.length > 0 || this.rejected.length > 0 || this.cvrHours.length > 0;
  }

  /**
   * The complete state as plain JSON-serialisable data. Refuses while output is buffered: a
   * checkpoint taken then would lose those records on restore (take and write them first).
   */
  snapshot(): ProcessorSnapshot {
    if (this.hasOutput) throw new Error('StreamTopology.snapshot(): take the buffered output first, or a restore would lose it');
    const openWindows = [];
    for (const line of this.lines.values()) for (const window of line.windows.values()) openWindows.push(window.snapshot());
    const rules: Record<string, unknown> = {};
    for (const rule of this.rules) rules[rule.name] = rule.snapshot();
    return {
      version: PROCESSOR_SNAPSHOT_VERSION,
      windows: { sizeMs: this.options.windowSizeMs, hopMs: this.options.hopMs, perMeter: this.options.perMeter },
      ingestClocks: [...this.partitions.values()].map((part) => ({ partition: part.partition, ingestClockMs: part.ingestClockMs, idleCheckedAtMs: part.idleCheckedAtMs })),
      lines: [...this.lines.values()].map((line) => ({
        lineId: line.lineId,
        partition: line.partition.partition,
        meters: [...line.clock.metersSeen()],
        lateCount: line.late,
        duplicateCount: line.duplicates,
        rejectedCount: line.rejected,
        clock: line.clock.snapshot(),
      })),
      openWindows,
      rules,
      cvrHours: this.cvrAccumulator.snapshot(),
    };
  }

  /**
   * Per line, the late and duplicate totals and the delivery delay: what the runtime hands the
   * read model after every poll. A cheap walk over the lines, unlike stats(), which also counts
   * every open window and builds every line's clock figures.
   */
  lineFigures(): LineFigures[] {
    const figures: LineFigures[] = [];
    for (const line of this.lines.values()) {
      const { clock } = line;
      figures.push({
        lineId: line.lineId,
        late: line.late,
        duplicates: line.duplicates,
        deliveryDelayMs: Math.round(clock.deliveryDelayMs),
        deliveryDelayMaxMs: clock.deliveryDelayMaxMs,
        lastIngestTime: clock.lastActivityMs,
      });
    }
    return figures;
  }

  stats(): Required<ProcessorStats> {
    let openWindows = 0;
    let trackedIds = 0;
    let meters = 0;
    const lateCounts: Record<string, number> = {};
    const duplicateCounts: Record<string, number> = {};
    const watermarks: Record<string, number> = {};
    const lineClocks: Record<string, LineClockStats> = {};
    const ingestClocks: Record<string, number> = {};
    for (const part of this.partitions.values()) ingestClocks[part.partition] = part.ingestClockMs;
    for (const line of this.lines.values()) {
      for (const window of line.windows.values()) {
        openWindows += 1 + (window.perMeter?.size ?? 0);
        trackedIds += window.ids.size;
      }
      meters += line.clock.metersSeenCount;
      lateCounts[line.lineId] = line.late;
      duplicateCounts[line.lineId] = line.duplicates;
      const clock = line.clock;
      watermarks[line.lineId] = clock.watermark;
      lineClocks[line.lineId] = {
        partition: line.partition.partition,
        watermark: clock.watermark,
        eventTimeMs: finiteOrNull(clock.progress),
        activeMeters: clock.activeMeters,
        lastIngestTime: clock.lastActivityMs,
        idle: clock.isIdle(line.partition.ingestClockMs),
        deliveryDelayMs: Math.round(clock.deliveryDelayMs),
        deliveryDelayMaxMs: clock.deliveryDelayMaxMs,
        rejected: line.rejected,
      };
    }
    return { openWindows, trackedIds, lines: this.lines.size, meters, lateCounts, duplicateCounts, watermarks, lineClocks, ingestClocks };
  }

  private addPartition(partition: string, ingestClockMs = -Infinity, idleCheckedAtMs = -Infinity): PartitionState {
    const part: PartitionState = { partition, ingestClockMs, idleCheckedAtMs, lines: [] };
    this.partitions.set(partition, part);
    return part;
  }

  private addLine(lineId: string, firstIngestTime: number, part: PartitionState, clock?: LineClock): LineState {
    clock ??= new LineClock(resolveLineTiming(this.options, lineId), this.options.meterActiveMs, firstIngestTime);
    const line: LineState = { lineId, partition: part, clock, timers: new WindowTimers(), windows: new Map(), late: 0, duplicates: 0, rejected: 0 };
    this.lines.set(lineId, line);
    part.lines.push(line);
    return line;
  }

  /**
   * A reading that counts (accepted or late, not a duplicate): its delivery delay, and the clock
   * rules when it could be compared. A reading ahead of its line by more than the meter-clock
   * tolerance (plus the line's own spread) is left out of the delay: what it shows is its meter's
   * clock error, not how late the line delivers (one fast meter must not move the figure either).
   */
  private onCounted(clock: LineClock, reading: ReadingEnvelope, aheadMs: number): void {
    if (!(aheadMs > this.options.meterClockToleranceMs + clock.timing.outOfOrdernessMs)) clock.recordDelay(reading.ingestTime - reading.eventTime, reading.ingestTime);
    if (aheadMs === aheadMs) this.judgeClock(clock, reading, aheadMs, false);
  }

  private judgeClock(clock: LineClock, reading: ReadingEnvelope, aheadMs: number, rejected: boolean): void {
    if (this.clockRules.length === 0) return;
    const judgement = this.judgement;
    judgement.aheadMs = aheadMs;
    judgement.spreadMs = clock.timing.outOfOrdernessMs;
    judgement.rejected = rejected;
    for (const rule of this.clockRules) rule.onMeterClock!(reading, judgement, this.emitAlert);
  }

  /** Applies the idle rule to the partition's lines at its ingest clock. */
  private checkIdleLines(part: PartitionState): void {
    const now = part.ingestClockMs;
    for (const line of part.lines) {
      if (line.clock.onIngestClock(now)) {
        line.timers.popDue(line.clock.watermark - line.clock.timing.allowedLatenessMs, this.fired);
        this.cvrAccumulator.closeLine(line.lineId, line.clock.watermark - line.clock.timing.allowedLatenessMs, this.cvrHours);
      }
    }
    part.idleCheckedAtMs = now;
  }

  /** Adds an accepted reading to every window it belongs to, unless it is a duplicate (then returns false). */
  private merge(line: LineState, reading: ReadingEnvelope, deviceId: string, firstStart: number): boolean {
    const { windowSizeMs, hopMs, perMeter } = this.options;
    let first = line.windows.get(firstStart);
    if (first !== undefined && first.ids.has(reading.id)) {
      line.duplicates++;
      return false;
    }
    const body = reading.body;
    const current = typeof body.current === 'number' ? body.current : undefined;
    const kw = typeof body.kw === 'number' ? body.kw : undefined;
    const kwh = typeof body.kwh === 'number' ? body.kwh : undefined;
    const windowCount = this.assigner.windowsPerEvent;
    for (let i = 0; i < windowCount; i++) {
      const start = firstStart + i * hopMs;
      let window = i === 0 ? first : line.windows.get(start);
      if (window === undefined) {
        window = new LineWindow(line.lineId, start, windowSizeMs, perMeter);
        line.windows.set(start, window);
        line.timers.register(window);
        if (i === 0) first = window;
      }
      window.add(deviceId, body.voltage, current, kw, kwh, reading.eventTime, reading.ingestTime);
    }
    first!.ids.add(reading.id);
    return true;
  }

  /** Emits the windows collected in `fired` in (end, lineId) order and runs the rules on them. */
  private emitFired(): void {
    const fired = this.fired;
    if (fired.length === 0) return;
    if (fired.length > 1) fired.sort(compareWindows);
    const start = this.aggregates.length;
    for (const window of fired) {
      this.lines.get(window.lineId)!.windows.delete(window.start);
      window.aggregates(this.aggregates);
    }
    fired.length = 0;
    for (let i = start; i < this.aggregates.length; i++) {
      for (const rule of this.rules) rule.onAggregate(this.aggregates[i], this.emitAlert);
    }
  }

  private restore(snapshot: ProcessorSnapshot): void {
    if (snapshot.version !== PROCESSOR_SNAPSHOT_VERSION) {
      throw new Error(
        `Unsupported processor snapshot version ${String(snapshot.version)} (expected ${PROCESSOR_SNAPSHOT_VERSION}); ` +
          'rebuild the derived state by replaying the readings (npm run replay, with the processor stopped)',
      );
    }
    const { windowSizeMs, hopMs, perMeter, meterActiveMs } = this.options;
    const shape = snapshot.windows;
    if (shape.sizeMs !== windowSizeMs || shape.hopMs !== hopMs || shape.perMeter !== perMeter) {
      throw new Error(
        `Processor snapshot was taken with windows size=${shape.sizeMs} hop=${shape.hopMs} perMeter=${shape.perMeter}, ` +
          `but the options say size=${windowSizeMs} hop=${hopMs} perMeter=${perMeter}; rebuild by replaying the readings instead`,
      );
    }
    for (const c of snapshot.ingestClocks) this.addPartition(c.partition, c.ingestClockMs, c.idleCheckedAtMs);
    // Absent in a checkpoint from before the CVR figures: they start with the next hour.
    this.cvrAccumulator = CvrHourAccumulator.restore(snapshot.cvrHours);
    for (const l of snapshot.lines) {
      // Timing comes from the current options: a changed lineTiming applies from the restore on.
      const clock = LineClock.restore(l.clock, l.meters, resolveLineTiming(this.options, l.lineId), meterActiveMs);
      const part = this.partitions.get(l.partition);
      if (part === undefined) throw new Error(`Processor snapshot is inconsistent: line ${l.lineId} on unknown partition ${l.partition}`);
      const line = this.addLine(l.lineId, clock.latestIngestTime, part, clock);
      line.late = l.lateCount;
      line.duplicates = l.duplicateCount;
      line.rejected = l.rejectedCount;
    }
    for (const w of snapshot.openWindows) {
      const window = LineWindow.restore(w, windowSizeMs, perMeter);
      const line = this.lines.get(w.lineId);
      if (line === undefined) throw new Error(`Processor snapshot is inconsistent: window of unknown line ${w.lineId}`);
      line.windows.set(window.start, window);
      line.timers.register(window);
    }
    for (const rule of this.rules) {
      if (rule.name in snapshot.rules) rule.restore(snapshot.rules[rule.name]);
    }
  }
}

/** A line whose readings now come from another partition (the runtime re-keyed it): its new partition's clock judges it. */
function moveLine(line: LineState, to: PartitionState): void {
  const from = line.partition.lines;
  from.splice(from.indexOf(line), 1);
  to.lines.push(line);
  line.partition = to;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** (windowEnd, lineId) in code-unit order: a total order, since a line has one window per start. */
function compareWindows(a: LineWindow, b: LineWindow): number {
  if (a.end !== b.end) return a.end - b.end;
  return a.lineId < b.lineId ? -1 : a.lineId > b.lineId ? 1 : 0;
}

/** A resuming partition's clock jumps to `to`: for each line the jump would make idle, up to the rest of the stop is the stop (see StreamTopology.resume). */
function skipStop(part: PartitionState, to: number): void {
  const jumpMs = to - part.ingestClockMs;
  if (!Number.isFinite(jumpMs)) return;
  const stopMs = Math.min(jumpMs, part.pauseMs ?? 0);
  let shifted = false;
  for (const line of part.lines) {
    if (jumpMs <= line.clock.timing.idleTimeoutMs) continue;
    line.clock.shiftIngestTime(stopMs);
    shifted = true;
  }
  if (shifted) part.pauseMs = (part.pauseMs ?? 0) - stopMs;
}
