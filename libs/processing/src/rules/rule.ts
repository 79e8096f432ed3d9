import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import type { VoltageModelVersion } from '../model/model-version';

/**
 * An alert rule: looks at every accepted reading (in log order per partition) and every fired
 * aggregate (in emission order), and emits alert events. A rule keeps its own state (open
 * alerts, streaks, model parameters) and must be able to hand it out as plain JSON and take it
 * back, so checkpoints capture it with the windows.
 *
 * Rules are pure like the rest of the core: no clocks (use the events' times), no I/O.
 */
export interface AlertRule {
  /** Stable name; keys the rule's state in a ProcessorSnapshot. */
  readonly name: string;
  /** Called once per accepted reading (not for late readings or duplicates). */
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
