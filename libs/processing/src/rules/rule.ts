import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import type { VoltageModelVersion } from '../model/model-version';

/** How a reading's clock compares with its line's (see LineClock.aheadMs). */
export interface ClockJudgement {
  /** How far the reading's event time is ahead of where the line's other meters are now (negative: behind). */
  aheadMs: number;
  /**
   * How far ahead the line's own disorder lets a reading be: the line's outOfOrdernessMs. (In a
   * line uploaded in bulk, meter by meter, the meter uploaded first leads the others by up to
   * that; only beyond it does a meter's clock look wrong.)
   */
  spreadMs: number;
  /** Too far ahead to be windowed: it went to the `rejected` output. */
  rejected: boolean;
}

/**
 * An alert rule: looks at every accepted reading (in log order per partition), optionally at how
 * each reading's clock compares with its line's, and at every fired aggregate (in emission order),
 * and emits alert events. A rule keeps its own state (open
 * alerts, streaks, model parameters) and must be able to hand it out as plain JSON and take it
 * back, so checkpoints capture it with the windows.
 *
 * Rules are pure like the rest of the core: no clocks (use the events' times), no I/O.
 */
export interface AlertRule {
  /** Stable name; keys the rule's state in a ProcessorSnapshot. */
  readonly name: string;
  /**
   * Called once per reading judged against its line's clock — accepted, late or rejected, not
   * duplicates, and not while the line has no other active meter to compare with — before
   * onReading. `clock` is valid only during the call (the topology reuses it).
   */
  onMeterClock?(reading: ReadingEnvelope, clock: Readonly<ClockJudgement>, emit: (alert: AlertEnvelope) => void): void;
  /** Called once per accepted reading (not for late or rejected readings, nor duplicates). */
  onReading?(reading: ReadingEnvelope, emit: (alert: AlertEnvelope) => void): void;
  /** Called once per fired aggregate (per-line and, with perMeter, per-meter ones). */
  onAggregate(aggregate: AggregateEnvelope, emit: (alert: AlertEnvelope) => void): void;
  /** Installs a published model version (rules without a model ignore it). */
  installModel?(model: VoltageModelVersion): void;
  /** The rule's state as a JSON-serialisable value. */
  snapshot(): unknown;
  /** Replaces the rule's state with one produced by snapshot(). */
  restore(state: unknown): void;
}
