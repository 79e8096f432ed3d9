/**
 * @meterstream/processing — the pure stream-processing core (no I/O, no clocks, no SDKs).
 *
 * Main entry point: StreamTopology.
 *
 *   const topology = new StreamTopology(options, snapshot?, rules?);
 *   topology.process(partition, readingEnvelope, nowMs);   // per reading, in log order per partition
 *   topology.advanceProcessingTime(nowMs);                 // only when a poll returned nothing (caught up), so idle lines progress
 *   const { aggregates, alerts, late, rejected } = topology.takeOutput();   // dead-letter `rejected`
 *   const state = topology.snapshot();                     // JSON; store with the input positions
 *   topology.stats();                                      // open windows, tracked ids, counters, per-line watermarks and delivery delay
 *
 * Semantics (event time, per-line watermarks robust to one fast meter clock, allowed lateness,
 * late and rejected side outputs, duplicate detection, deterministic output order, idle lines on
 * their partition's ingest clock) are documented on StreamTopology and LineClock. New alert
 * rules implement AlertRule (rules/rule.ts).
 */
export {
  ANSI_C84_1,
  AMI_HEAD_END_TIMING,
  DEFAULT_CLOCK_AHEAD_LIMIT_MS,
  DEFAULT_METER_ACTIVE_MS,
  DEFAULT_METER_CLOCK_TOLERANCE_MS,
  resolveLineTiming,
  resolveProcessorOptions,
  type LineTiming,
  type LineTimingRule,
  type ProcessorOptions,
  type ResolvedProcessorOptions,
} from './options';
export { StreamTopology, type LineClockStats, type LineFigures, type ProcessorOutput, type ProcessorStats, type RejectedReading } from './topology';
export { PROCESSOR_SNAPSHOT_VERSION, type LineSnapshot, type ProcessorSnapshot } from './snapshot';
export * from './partition-checkpoint';
export { LineClock, SortedValues, type LineClockSnapshot } from './line-clock';
export { WindowAssigner } from './windows/window-assigner';
export { WindowStats, type WindowStatsSnapshot, type OptionalQuantitySnapshot } from './windows/window-stats';
export { EnergyDelta, type EnergyDeltaSnapshot } from './windows/energy-delta';
export { aggregateEnvelope, type LineWindowSnapshot } from './windows/line-window';
export * from './rules';
export * from './model/features';
export * from './model/rls';
export * from './model/line-voltage-model';
export * from './model/model-version';
