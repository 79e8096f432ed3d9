import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { resolveProcessorOptions, type ProcessorOptions, type ResolvedProcessorOptions } from './options';
import type { AlertRule } from './rules/rule';
import type { VoltageModelVersion } from './model/model-version';
import { VoltageLimitRule } from './rules/voltage-limit.rule';
import { VoltageModelRule } from './rules/voltage-model.rule';
import { PROCESSOR_SNAPSHOT_VERSION, type ProcessorSnapshot } from './snapshot';
import { PartitionWatermark } from './watermarks';
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
  /** Current watermark per partition (epoch ms). */
  watermarks: Record<string, number>;
}

interface Partition {
  readonly clock: PartitionWatermark;
  readonly timers: WindowTimers;
}

interface LineState {
  readonly lineId: string;
  /** Open windows by start. */
  readonly windows: Map<number, LineWindow>;
  readonly meters: Set<string>;
  late: number;
  duplicates: number;
}

/**
 * The processing core: per-line event-time windows, per-partition watermarks, late and duplicate
 * handling, and alert rules on the fired windows. Pure and synchronous: no I/O, no clock; the
 * runtime hands in processing time and takes the buffered output.
 *
 * Runtime contract:
 * - process(partition, reading, now) for every reading, in log order per partition;
 * - advanceProcessingTime(now) regularly (every poll, also when a poll returned nothing), which is
 *   what lets idle partitions' windows fire;
 * - takeOutput() after a batch, write it, then snapshot() together with the input positions.
 *
 * Semantics:
 * - An event is accepted whole or not at all: it is late when the earliest window it belongs to
 *   has fired (its partition's watermark >= that window's end + allowedLateness). Late events go
 *   to the `late` side output and lateCounts; with hopping windows this means an event is never
 *   counted in some of its windows but not others.
 * - Duplicates (same envelope id) are recognised while the event's earliest window is open; after
 *   that a redelivery is indistinguishable from a late event and is treated as late.
 * - A window fires exactly once, when its partition's watermark reaches end + allowedLateness.
 *   Windows of one line fire by the watermark of the partition that delivered their first event.
 */
export class StreamTopology {
  private readonly options: ResolvedProcessorOptions;
  private readonly assigner: WindowAssigner;
  private readonly rules: AlertRule[];
  /** The rules that look at single readings (the model, meter health), in rule order. */
  private readonly readingRules: AlertRule[];
  private readonly partitions = new Map<string, Partition>();
  private readonly lines = new Map<string, LineState>();
  private processingTimeMs = -Infinity;

  private aggregates: AggregateEnvelope[] = [];
  private alerts: AlertEnvelope[] = [];
  private late: ReadingEnvelope[] = [];
  private readonly fired: LineWindow[] = [];
  private readonly emitAlert = (alert: AlertEnvelope): void => {
    this.alerts.push(alert);
  };

  /**
   * @param snapshot state from snapshot() of a topology with the same window shape; continue from it.
   * @param rules alert rules; default: only the ANSI C84.1 VoltageLimitRule built from options
   *   (the runtime passes createAlertRules(...): limits, the voltage model, meter health).
   */
  constructor(options: ProcessorOptions, snapshot?: ProcessorSnapshot, rules?: AlertRule[]) {
    this.options = resolveProcessorOptions(options);
    this.assigner = new WindowAssigner(this.options.windowSizeMs, this.options.hopMs);
    this.rules = rules ?? [new VoltageLimitRule(this.options)];
    const names = new Set(this.rules.map((rule) => rule.name));
    if (names.size !== this.rules.length) throw new Error('Alert rules must have distinct names (they key the rule state in snapshots)');
    this.readingRules = this.rules.filter((rule) => rule.onReading !== undefined);
    if (snapshot !== undefined) this.restore(snapshot);
  }

  get resolvedOptions(): Readonly<ResolvedProcessorOptions> {
    return this.options;
  }

  /** Feeds one reading from `partition`, received at processing time nowMs. Output is buffered. */
  process(partition: string, reading: ReadingEnvelope, nowMs: number): void {
    const now = this.advanceClock(nowMs);
    const eventTime = reading.eventTime;
    const lineId = reading.lineId;
    let state = this.partitions.get(partition);
    if (state === undefined) {
      state = { clock: new PartitionWatermark(partition, this.options.outOfOrdernessMs, this.options.idleTimeoutMs, eventTime, now), timers: new WindowTimers() };
      this.partitions.set(partition, state);
    }
    let line = this.lines.get(lineId);
    if (line === undefined) {
      line = { lineId, windows: new Map(), meters: new Set(), late: 0, duplicates: 0 };
      this.lines.set(lineId, line);
    }

    // Judge lateness by the watermark *before* this event moves it (as Flink does).
    const firstEnd = this.assigner.firstWindowEnd(eventTime);
    if (firstEnd + this.options.allowedLatenessMs <= state.clock.watermark) {
      line.late++;
      this.late.push(reading);
    } else if (this.merge(partition, state, line, reading, firstEnd - this.options.windowSizeMs)) {
      for (const rule of this.readingRules) rule.onReading!(reading, this.emitAlert);
    }

    if (state.clock.onEvent(eventTime, now)) {
      state.timers.popDue(state.clock.watermark - this.options.allowedLatenessMs, this.fired);
      this.emitFired();
    }
  }

  /**
   * Lets processing time pass: partitions idle for longer than idleTimeoutMs advance their
   * watermark (see PartitionWatermark) and fire what that makes due. Processing time is taken as
   * monotonic: a smaller nowMs than seen before counts as no time passing.
   */
  advanceProcessingTime(nowMs: number): void {
    const now = this.advanceClock(nowMs);
    for (const { clock, timers } of this.partitions.values()) {
      if (clock.onProcessingTime(now)) timers.popDue(clock.watermark - this.options.allowedLatenessMs, this.fired);
    }
    this.emitFired();
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
  takeOutput(): ProcessorOutput {
    const output = { aggregates: this.aggregates, alerts: this.alerts, late: this.late };
    this.aggregates = [];
    this.alerts = [];
    this.late = [];
    return output;
  }

  /** True when output is waiting to be taken. */
  get hasOutput(): boolean {
    return this.aggregates.length > 0 || this.alerts.length > 0 || this.late.length > 0;
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
      processingTimeMs: Number.isFinite(this.processingTimeMs) ? this.processingTimeMs : null,
      partitions: [...this.partitions.values()].map((p) => p.clock.snapshot()),
      lines: [...this.lines.values()].map((line) => ({ lineId: line.lineId, meters: [...line.meters], lateCount: line.late, duplicateCount: line.duplicates })),
      openWindows,
      rules,
    };
  }

  stats(): ProcessorStats {
    let openWindows = 0;
    let trackedIds = 0;
    let meters = 0;
    const lateCounts: Record<string, number> = {};
    const duplicateCounts: Record<string, number> = {};
    for (const line of this.lines.values()) {
      for (const window of line.windows.values()) {
        openWindows += 1 + (window.perMeter?.size ?? 0);
        trackedIds += window.ids.size;
      }
      meters += line.meters.size;
      lateCounts[line.lineId] = line.late;
      duplicateCounts[line.lineId] = line.duplicates;
    }
    const watermarks: Record<string, number> = {};
    for (const [id, { clock }] of this.partitions) watermarks[id] = clock.watermark;
    return { openWindows, trackedIds, lines: this.lines.size, meters, lateCounts, duplicateCounts, watermarks };
  }

  private advanceClock(nowMs: number): number {
    if (nowMs > this.processingTimeMs) this.processingTimeMs = nowMs;
    return this.processingTimeMs;
  }

  /** Adds an accepted reading to every window it belongs to, unless it is a duplicate (then returns false). */
  private merge(partitionId: string, partition: Partition, line: LineState, reading: ReadingEnvelope, firstStart: number): boolean {
    const { windowSizeMs, hopMs, perMeter } = this.options;
    let first = line.windows.get(firstStart);
    if (first !== undefined && first.ids.has(reading.id)) {
      line.duplicates++;
      return false;
    }
    const body = reading.body;
    const deviceId = reading.deviceId ?? body.deviceId;
    line.meters.add(deviceId);
    const current = typeof body.current === 'number' ? body.current : undefined;
    const kw = typeof body.kw === 'number' ? body.kw : undefined;
    const kwh = typeof body.kwh === 'number' ? body.kwh : undefined;
    const windowCount = this.assigner.windowsPerEvent;
    for (let i = 0; i < windowCount; i++) {
      const start = firstStart + i * hopMs;
      let window = i === 0 ? first : line.windows.get(start);
      if (window === undefined) {
        window = new LineWindow(line.lineId, partitionId, start, windowSizeMs, perMeter);
        line.windows.set(start, window);
        partition.timers.register(window);
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
    const { windowSizeMs, hopMs, perMeter, outOfOrdernessMs, idleTimeoutMs } = this.options;
    const shape = snapshot.windows;
    if (shape.sizeMs !== windowSizeMs || shape.hopMs !== hopMs || shape.perMeter !== perMeter) {
      throw new Error(
        `Processor snapshot was taken with windows size=${shape.sizeMs} hop=${shape.hopMs} perMeter=${shape.perMeter}, ` +
          `but the options say size=${windowSizeMs} hop=${hopMs} perMeter=${perMeter}; rebuild by replaying the readings instead`,
      );
    }
    this.processingTimeMs = snapshot.processingTimeMs ?? -Infinity;
    for (const p of snapshot.partitions) {
      this.partitions.set(p.partition, { clock: PartitionWatermark.restore(p, outOfOrdernessMs, idleTimeoutMs), timers: new WindowTimers() });
    }
    for (const l of snapshot.lines) {
      this.lines.set(l.lineId, { lineId: l.lineId, windows: new Map(), meters: new Set(l.meters), late: l.lateCount, duplicates: l.duplicateCount });
    }
    for (const w of snapshot.openWindows) {
      const window = LineWindow.restore(w, windowSizeMs, perMeter);
      const line = this.lines.get(w.lineId);
      const partition = this.partitions.get(w.partition);
      if (line === undefined || partition === undefined) throw new Error(`Processor snapshot is inconsistent: window of line ${w.lineId} on unknown line or partition ${w.partition}`);
      line.windows.set(window.start, window);
      partition.timers.register(window);
    }
    for (const rule of this.rules) {
      if (rule.name in snapshot.rules) rule.restore(snapshot.rules[rule.name]);
    }
  }
}

/** (windowEnd, lineId) in code-unit order: a total order, since a line has one window per start. */
function compareWindows(a: LineWindow, b: LineWindow): number {
  if (a.end !== b.end) return a.end - b.end;
  return a.lineId < b.lineId ? -1 : a.lineId > b.lineId ? 1 : 0;
}
