/**
 * @meterstream/processing — the pure stream-processing core (no I/O, no clocks, no SDKs).
 *
 * Main entry point: StreamTopology.
 *
 *   const topology = new StreamTopology(options, snapshot?, rules?);
 *   topology.process(partition, readingEnvelope, nowMs);   // per reading, in log order per partition
 *   topology.advanceProcessingTime(nowMs);                 // every poll, so idle partitions progress
 *   const { aggregates, alerts, late } = topology.takeOutput();
 *   const state = topology.snapshot();                     // JSON; store with the input positions
 *   topology.stats();                                      // open windows, tracked ids, counters, watermarks
 *
 * Semantics (event time, per-partition watermarks, allowed lateness, late side output,
 * duplicate detection, deterministic output order, idle partitions) are documented on
 * StreamTopology and PartitionWatermark. New alert rules implement AlertRule (rules/rule.ts).
 */
export { ANSI_C84_1, resolveProcessorOptions, type ProcessorOptions, type ResolvedProcessorOptions } from './options';
export { StreamTopology, type ProcessorOutput, type ProcessorStats } from './topology';
export { PROCESSOR_SNAPSHOT_VERSION, type LineSnapshot, type ProcessorSnapshot } from './snapshot';
export * from './partition-checkpoint';
export { PartitionWatermark, type PartitionWatermarkSnapshot } from './watermarks';
export { WindowAssigner } from './windows/window-assigner';
export { WindowStats, type WindowStatsSnapshot, type OptionalQuantitySnapshot } from './windows/window-stats';
export { EnergyDelta, type EnergyDeltaSnapshot } from './windows/energy-delta';
export { aggregateEnvelope, type LineWindowSnapshot } from './windows/line-window';
export * from './rules';
export * from './model/features';
export * from './model/rls';
export * from './model/line-voltage-model';
export * from './model/model-version';
