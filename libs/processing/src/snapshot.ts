import type { LineWindowSnapshot } from './windows/line-window';
import type { PartitionWatermarkSnapshot } from './watermarks';

/**
 * 3: rules keep per-reading state (the voltage model, meter health). 2: windows keep their
 * voltages (percentiles) and kWh register spans (energy).
 */
export const PROCESSOR_SNAPSHOT_VERSION = 3;

/** Per-line counters that outlive windows. */
export interface LineSnapshot {
  lineId: string;
  /** Meters seen on the line, in first-seen order. */
  meters: string[];
  lateCount: number;
  duplicateCount: number;
}

/**
 * Everything a StreamTopology needs to continue exactly where it stopped: plain JSON (no Map,
 * Set, Infinity or undefined-vs-missing subtleties), so the runtime can store it with the input
 * positions it corresponds to.
 */
export interface ProcessorSnapshot {
  version: typeof PROCESSOR_SNAPSHOT_VERSION;
  /** The window shape the state was built with; restoring under another shape is refused. */
  windows: { sizeMs: number; hopMs: number; perMeter: boolean };
  /** Highest processing time seen (processing time is made monotonic); null before any call. */
  processingTimeMs: number | null;
  partitions: PartitionWatermarkSnapshot[];
  lines: LineSnapshot[];
  openWindows: LineWindowSnapshot[];
  /** Each rule's own state, by rule name. */
  rules: Record<string, unknown>;
}
