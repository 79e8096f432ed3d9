/**
 * The streams of the event log. Two are sources: what devices said (`readings`, `dead-letters`)
 * and what people decided (`alert-commands`). Every other stream is derived, and replay rebuilds
 * it from the sources.
 */
export const STREAMS = {
  readings: 'readings',
  deadLetters: 'dead-letters',
  /** Operators' decisions about alerts (acknowledge, close, reopen): a source, kept by replay. */
  alertCommands: 'alert-commands',
  aggregates: 'aggregates',
  alerts: 'alerts',
  /** Side output: readings that arrived after their window had fired (never merged, never dropped). */
  lateReadings: 'late-readings',
} as const;

export type StreamName = (typeof STREAMS)[keyof typeof STREAMS];
