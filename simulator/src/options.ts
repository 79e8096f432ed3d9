import type { CvrSimulationSpec } from './cvr/cvr-spec';
import type { FaultProfile, FaultSpec } from './faults/fault-spec';

export const DEFAULT_INTERVAL_MS = 15_000;

export interface SimulatorOptions {
  seed: number;
  lines: number;
  metersPerLine: number;
  /** Each meter reports every intervalMs of simulated time (default 15000). */
  intervalMs: number;
  /** Simulated start, epoch ms. */
  start: number;
  /** Simulated duration; Infinity for live runs. */
  durationMs: number;
  faults: FaultProfile | FaultSpec[];
  /** Line id of the 0-based line index; default L01, L02, … (3 digits when there are more than 99 lines). */
  lineIdFormat?: (index: number) => string;
  /** A conservation voltage reduction programme: ZIP loads, weather, a schedule of reduced days (simulator/src/cvr). */
  cvr?: CvrSimulationSpec;
}

/** The options after defaults and checks; everything downstream reads these. */
export interface ResolvedOptions {
  seed: number;
  lines: number;
  metersPerLine: number;
  intervalMs: number;
  start: number;
  /** start + durationMs; Infinity for an endless run. */
  end: number;
  faults: FaultProfile | FaultSpec[];
  lineIds: string[];
  cvr?: CvrSimulationSpec;
}

export function defaultLineIdFormat(lines: number): (index: number) => string {
  const width = lines > 99 ? 3 : 2;
  return (index) => `L${String(index + 1).padStart(width, '0')}`;
}

export function resolveOptions(options: SimulatorOptions): ResolvedOptions {
  const { seed, lines, metersPerLine, start, durationMs } = options;
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  if (!Number.isInteger(lines) || lines < 1) throw new Error(`lines must be a positive integer, got ${lines}`);
  if (!Number.isInteger(metersPerLine) || metersPerLine < 1) throw new Error(`metersPerLine must be a positive integer, got ${metersPerLine}`);
  if (!Number.isInteger(intervalMs) || intervalMs < 1) throw new Error(`intervalMs must be a positive integer, got ${intervalMs}`);
  if (!Number.isInteger(start)) throw new Error(`start must be epoch milliseconds (an integer), got ${start}`);
  if (!(durationMs >= 0)) throw new Error(`durationMs must be >= 0 or Infinity, got ${durationMs}`);
  const faults = options.faults ?? 'none';
  if (typeof faults === 'string' && faults !== 'none' && faults !== 'demo') {
    throw new Error(`faults must be "none", "demo" or an array of fault specs, got "${faults}"`);
  }

  const format = options.lineIdFormat ?? defaultLineIdFormat(lines);
  const lineIds = Array.from({ length: lines }, (_, i) => format(i));
  const seen = new Set<string>();
  for (const id of lineIds) {
    // Same rule as the contract's topic segment: the id becomes part of line/{lineId}/SmartMeterData.
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error(`lineIdFormat produced "${id}", which is not a valid line id ([A-Za-z0-9_-], 1–64 chars)`);
    if (seen.has(id)) throw new Error(`lineIdFormat produced "${id}" twice; line ids must be unique`);
    seen.add(id);
  }

  return { seed, lines, metersPerLine, intervalMs, start, end: start + durationMs, faults, lineIds, cvr: options.cvr };
}

/** Epoch ms of a spec time (epoch ms or ISO-8601). */
export function toEpochMs(value: number | string, what: string): number {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new Error(`${what}: ${JSON.stringify(value)} is not epoch ms or an ISO-8601 time`);
  return ms;
}
