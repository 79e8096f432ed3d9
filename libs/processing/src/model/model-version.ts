import type { LineModelParameters } from './line-voltage-model';

/**
 * A published voltage model: what `meterstream retrain --publish` writes to the model registry and
 * a running processor installs without a restart. Versions only go up; evidence of every alert a
 * model-based rule raises names the version it was computed with (0: learned online only).
 */
export interface VoltageModelVersion {
  version: number;
  /** ISO-8601; informational. */
  createdAt: string;
  /** The event-time range of readings it was fitted on (epoch ms, [from, to)). */
  trainedOn: { from: number; to: number };
  /** Held-out mean absolute error when it was published (volts), for the registry listing. */
  heldOutMae?: number;
  lines: Record<string, LineModelParameters>;
}
