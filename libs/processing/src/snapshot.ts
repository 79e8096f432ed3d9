import type { CvrHourState } from '@meterstream/cvr';
import type { LineClockSnapshot } from './line-clock';
import type { LineWindowSnapshot } from './windows/line-window';

/**
 * 4: watermarks per line (each line's meters' clocks) and ingest clocks per partition, instead
 * of watermarks per partition and processing time. 3: rules keep per-reading state (the voltage model, meter
 * health). 2: windows keep their voltages (percentiles) and kWh register spans (energy).
 */
export const PROCESSOR_SNAPSHOT_VERSION = 4;

/** Per-line state that outlives windows: counters and the line's clock. */
export interface LineSnapshot {
  lineId: string;
  /** The partition the line's latest reading came from. */
  partition: string;
  /** Meters seen on the line (readings not rejected), in first-seen order. */
  meters: string[];
  lateCount: number;
  duplicateCount: number;
  rejectedCount: number;
  clock: LineClockSnapshot;
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
  /**
   * Each partition's ingest clock: the highest ingestTime read from it (or handed to
   * advanceProcessingTime), and its value at the last check for idle lines.
   */
  ingestClocks: Array<{ partition: string; ingestClockMs: number; idleCheckedAtMs: number }>;
  lines: LineSnapshot[];
  openWindows: LineWindowSnapshot[];
  /** Each rule's own state, by rule name. */
  rules: Record<string, unknown>;
  /** The open hours of the CVR figures and each meter's last register (absent in checkpoints written before them). */
  cvrHours?: CvrHourState;
}
