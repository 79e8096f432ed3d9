/** The streams of the event log. Every derived state can be rebuilt by replaying `readings`. */
export const STREAMS = {
  readings: 'readings',
  deadLetters: 'dead-letters',
  aggregates: 'aggregates',
  alerts: 'alerts',
} as const;

export type StreamName = (typeof STREAMS)[keyof typeof STREAMS];
