import { ENVELOPE_VERSION, aggregateId, type AggregateBody, type AggregateEnvelope } from '@meterstream/contracts';
import { EnergyDelta, type EnergyDeltaSnapshot } from './energy-delta';
import { WindowStats, type WindowStatsSnapshot } from './window-stats';

/** JSON-safe form of an open window, as stored in a ProcessorSnapshot. */
export interface LineWindowSnapshot {
  lineId: string;
  start: number;
  stats: WindowStatsSnapshot;
  /** Envelope ids seen in this window's first pane (see LineWindow.ids). */
  ids: string[];
  /** Distinct meters, in arrival order (when not aggregating per meter). */
  meters?: string[];
  /** Per-meter statistics, in arrival order (when aggregating per meter). */
  perMeter?: Array<{ deviceId: string; stats: WindowStatsSnapshot }>;
  /** First and last kWh register per meter; absent while no reading in the window carried kwh. */
  energy?: EnergyDeltaSnapshot;
}

/**
 * One open event-time window of one line: the line's running statistics, the distinct meters and,
 * with per-meter aggregation, each meter's own statistics (they share the window's lifetime, so
 * they fire together and need no timers of their own).
 */
export class LineWindow {
  readonly end: number;
  /**
   * Ids of the events whose *earliest* window this is. A duplicate always maps to the same
   * windows as its original, and once the earliest one has fired the duplicate is late anyway,
   * so this is the only place an id must be remembered and it is freed when this window fires.
   */
  readonly ids = new Set<string>();
  /** Distinct meters when not aggregating per meter; null otherwise (perMeter's keys serve). */
  readonly meterIds: Set<string> | null;
  /** Per-meter statistics when aggregating per meter; null otherwise. */
  readonly perMeter: Map<string, WindowStats> | null;
  /** Per-meter kWh register span, serving the line's and each meter's energy; null until a reading carries kwh. */
  private energy: EnergyDelta | null = null;

  constructor(
    readonly lineId: string,
    readonly start: number,
    sizeMs: number,
    perMeter: boolean,
    readonly stats: WindowStats = new WindowStats(),
  ) {
    this.end = start + sizeMs;
    this.meterIds = perMeter ? null : new Set();
    this.perMeter = perMeter ? new Map() : null;
  }

  add(deviceId: string, voltage: number, current: number | undefined, kw: number | undefined, kwh: number | undefined, eventTime: number, ingestTime: number): void {
    this.stats.add(voltage, current, kw, ingestTime);
    if (kwh !== undefined) (this.energy ??= new EnergyDelta()).add(deviceId, eventTime, kwh);
    if (this.perMeter === null) {
      this.meterIds!.add(deviceId);
      return;
    }
    let meter = this.perMeter.get(deviceId);
    if (meter === undefined) {
      meter = new WindowStats();
      this.perMeter.set(deviceId, meter);
    }
    meter.add(voltage, current, kw, ingestTime);
  }

  get meterCount(): number {
    return this.perMeter === null ? this.meterIds!.size : this.perMeter.size;
  }

  /** The final aggregates of this window: the line's first, then each meter's by deviceId. */
  aggregates(out: AggregateEnvelope[]): void {
    const size = this.end - this.start;
    out.push(aggregateEnvelope(this.lineId, undefined, this.start, size, this.stats, this.meterCount, this.energy?.total()));
    if (this.perMeter === null) return;
    // Plain code-unit order (not localeCompare) so the order never depends on the host's locale.
    const deviceIds = [...this.perMeter.keys()].sort();
    for (const deviceId of deviceIds) {
      out.push(aggregateEnvelope(this.lineId, deviceId, this.start, size, this.perMeter.get(deviceId)!, 1, this.energy?.meterDelta(deviceId)));
    }
  }

  snapshot(): LineWindowSnapshot {
    const snapshot: LineWindowSnapshot = {
      lineId: this.lineId,
      start: this.start,
      stats: this.stats.snapshot(),
      ids: [...this.ids],
    };
    if (this.perMeter === null) snapshot.meters = [...this.meterIds!];
    else snapshot.perMeter = [...this.perMeter].map(([deviceId, stats]) => ({ deviceId, stats: stats.snapshot() }));
    if (this.energy !== null) snapshot.energy = this.energy.snapshot();
    return snapshot;
  }

  static restore(snapshot: LineWindowSnapshot, sizeMs: number, perMeter: boolean): LineWindow {
    const window = new LineWindow(snapshot.lineId, snapshot.start, sizeMs, perMeter, WindowStats.restore(snapshot.stats));
    for (const id of snapshot.ids) window.ids.add(id);
    if (window.perMeter === null) {
      for (const deviceId of snapshot.meters ?? []) window.meterIds!.add(deviceId);
    } else {
      for (const meter of snapshot.perMeter ?? []) window.perMeter.set(meter.deviceId, WindowStats.restore(meter.stats));
    }
    if (snapshot.energy !== undefined) window.energy = EnergyDelta.restore(snapshot.energy);
    return window;
  }
}

/**
 * The aggregate record of one window. eventTime is the window start; ingestTime is the highest
 * ingest time among the window's readings, so it is fixed by the input and never by a clock.
 * energyKwh (see EnergyDelta) is left out of the body when undefined: no reading carried kwh.
 */
export function aggregateEnvelope(
  lineId: string,
  deviceId: string | undefined,
  windowStart: number,
  windowSizeMs: number,
  stats: WindowStats,
  meters: number,
  energyKwh?: number,
): AggregateEnvelope {
  const body: AggregateBody = {
    lineId,
    ...(deviceId === undefined ? {} : { deviceId }),
    windowStart,
    windowEnd: windowStart + windowSizeMs,
    count: stats.count,
    meters,
    voltage: stats.voltage(),
  };
  const current = stats.current();
  if (current !== undefined) body.current = current;
  const kw = stats.kw();
  if (kw !== undefined) body.kw = kw;
  if (energyKwh !== undefined) body.energyKwh = energyKwh;
  return {
    v: ENVELOPE_VERSION,
    type: 'aggregate',
    id: aggregateId(deviceId === undefined ? lineId : `${lineId}/${deviceId}`, windowStart, windowSizeMs),
    lineId,
    deviceId: deviceId ?? null,
    eventTime: windowStart,
    ingestTime: stats.maxIngestTime,
    body,
  };
}
