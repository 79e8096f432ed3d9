/** The streams of the event log. Every derived state can be rebuilt by replaying `readings`. */
export const STREAMS = {
  readings: 'readings',
  deadLetters: 'dead-letters',
  aggregates: 'aggregates',
  alerts: 'alerts',
  /** Side output: readings that arrived after their window had fired (never merged, never dropped). */
  lateReadings: 'late-readings',
} as const;

export type StreamName = (typeof STREAMS)[keyof typeof STREAMS];
