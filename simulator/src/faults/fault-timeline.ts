import type { Fleet } from '../fleet/fleet';
import type { ScheduledFault } from './fault-schedule';

/**
 * Which fault intervals are active at the current simulated time. Time only moves forward, so
 * the timeline consumes the (start-ordered, possibly endless) schedule once and recomputes its
 * lookups only when a fault starts or ends, not per reading.
 */
export class FaultTimeline {
  /** Volts added to each line's substation bus (by line index). */
  readonly busShiftV: Float64Array;
  /** Active meter faults by meter index. */
  readonly meterFaults: Array<ScheduledFault[] | undefined>;
  private active: ScheduledFault[] = [];
  private upcoming: ScheduledFault | undefined;
  private nextChange = -Infinity;
  private touchedMeters: number[] = [];

  constructor(
    private readonly schedule: Iterator<ScheduledFault>,
    fleet: Fleet,
  ) {
    this.busShiftV = new Float64Array(fleet.lines.length);
    this.meterFaults = new Array(fleet.meters.length).fill(undefined);
    this.upcoming = this.pull();
  }

  advanceTo(t: number): void {
    if (t < this.nextChange) return;
    this.active = this.active.filter((fault) => fault.end > t);
    while (this.upcoming && this.upcoming.start <= t) {
      if (this.upcoming.end > t) this.active.push(this.upcoming);
      this.upcoming = this.pull();
    }
    this.rebuild();
    let next = this.upcoming ? this.upcoming.start : Infinity;
    for (const fault of this.active) next = Math.min(next, fault.end);
    this.nextChange = next;
  }

  private pull(): ScheduledFault | undefined {
    const step = this.schedule.next();
    return step.done ? undefined : step.value;
  }

  private rebuild(): void {
    this.busShiftV.fill(0);
    for (const index of this.touchedMeters) this.meterFaults[index] = undefined;
    this.touchedMeters = [];
    for (const fault of this.active) {
      if (fault.meter) {
        const list = this.meterFaults[fault.meter.index];
        if (list) list.push(fault);
        else {
          this.meterFaults[fault.meter.index] = [fault];
          this.touchedMeters.push(fault.meter.index);
        }
      } else {
        this.busShiftV[fault.line.index] += fault.busShiftV;
      }
    }
  }
}
