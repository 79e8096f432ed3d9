/**
 * Configuration of the stream topology. Times are milliseconds. Everything here is plain data so
 * the runtime can build it from its config; the core never reads the environment itself.
 */
export interface ProcessorOptions {
  /** Window length. Windows are aligned to the epoch: a window starts at a multiple of the hop. */
  windowSizeMs: number;
  /** Hopping windows: distance between window starts; must divide windowSizeMs. Default: windowSizeMs (tumbling). */
  hopMs?: number;
  /** Also aggregate per meter (aggregates with deviceId set). Default false. */
  perMeter?: boolean;
  /**
   * A line's watermark = its event-time progress (the lower median of its active meters' highest
   * event times) minus this. Finite.
   */
  outOfOrdernessMs: number;
  /** A line's window fires when the line's watermark reaches windowEnd + allowedLatenessMs (the grace period). Finite. */
  allowedLatenessMs: number;
  /**
   * Ingest time without a reading from a line (by the ingest clock of the line's partition, the
   * highest ingestTime read from it: see StreamTopology) after which the line counts as idle and
   * its watermark starts to follow that clock. Use Infinity to disable.
   */
  idleTimeoutMs: number;
  /**
   * Per-line overrides of the three timings above, for lines whose delivery differs (AMI
   * head-ends uploading in bulk: see AMI_HEAD_END_TIMING below). The first rule whose `match`
   * fits the line id wins; unmatched lines use the global options. Default none.
   */
  lineTiming?: LineTimingRule[];
  /**
   * A reading whose event time is more than this — on top of its line's outOfOrdernessMs, the
   * line's own disorder — ahead of its line's other meters (a fast meter clock) is not windowed
   * but goes to the `rejected` output. Default 15 minutes; Infinity disables.
   */
  clockAheadLimitMs?: number;
  /** A meter's readings count as ahead of their line (the meter-clock rule) beyond this, on top of the line's outOfOrdernessMs. Default 2 minutes. */
  meterClockToleranceMs?: number;
  /**
   * A meter takes part in its line's clock while its last reading was ingested at most this long
   * before the line's latest one. Default 2 hours; Infinity keeps meters for ever. The line's
   * progress is the lower median of its active meters, so while half of them or more are silent
   * (a feeder section without power; one dead meter on a line of two) its watermark waits for them
   * up to this long — nothing goes late, but windows close that much later.
   */
  meterActiveMs?: number;
  /** ANSI C84.1 Range A minimum (volts). Default 114. */
  voltageLow?: number;
  /** ANSI C84.1 Range A maximum (volts). Default 126. */
  voltageHigh?: number;
  /** ANSI C84.1 Range B minimum; below it an alert is critical. Default 110. */
  rangeBLow?: number;
  /** ANSI C84.1 Range B maximum; above it an alert is critical. Default 127. */
  rangeBHigh?: number;
  /** Consecutive fired in-range windows of a line needed to clear an open alert. Default 2. */
  clearAfterWindows?: number;
}

/** Timing of the lines a rule matches; a field left out falls back to the global option. */
export interface LineTimingRule {
  /** An exact line id, or a prefix followed by `*` (`HE1-*`; `*` alone matches every line). */
  match: string;
  outOfOrdernessMs?: number;
  allowedLatenessMs?: number;
  idleTimeoutMs?: number;
}

/** The timing one line runs with (resolved once, when the topology first sees the line). */
export interface LineTiming {
  outOfOrdernessMs: number;
  allowedLatenessMs: number;
  idleTimeoutMs: number;
}

/*
 * AMI head-end lines: the documented setting (copy to the README).
 *
 * A collector or head-end that uploads its meters' readings in bulk, say every 15 minutes and an
 * hour late, delivers a bulk meter by meter: all of meter A's readings of those 15 minutes, then
 * all of meter B's, and so on. Halfway through a bulk the line's event-time progress (the lower
 * median of its meters' newest readings) jumps to the end of the bulk, while the meters still to
 * come bring readings from its start. And between bulks the line is silent for the whole interval.
 * So such lines need:
 * - outOfOrdernessMs >= the bulk interval: the readings still to come in a bulk are at most one
 *   interval older than the line's progress, so none of them is late;
 * - idleTimeoutMs > the bulk interval (plus how late a bulk may come): a line silent between two
 *   bulks is not idle, so the ingest clock does not push its watermark past the next bulk.
 * (The same out-of-orderness lets the meters of a bulk lead one another by up to a bulk without
 * being taken for fast clocks: rejection and the meter-clock alert allow it on top of their limits.)
 * The cost is latency: a bulk's windows close when the next bulk arrives (or once the line is
 * idle), which for data that arrives an hour late anyway does not matter. Live lines keep the
 * global timing. For 15-minute bulks (AMI_HEAD_END_TIMING):
 *
 *   lineTiming: [{ match: 'HE1-*', outOfOrdernessMs: 15 * 60_000, idleTimeoutMs: 20 * 60_000 }]
 *
 * (the lines behind head-end HE1 here being the ones whose ids start with `HE1-`). How late each
 * line's readings arrive is in stats().lineClocks[lineId].deliveryDelayMs.
 *
 * A limit: a head-end that has been delivering late and then catches up meter by meter, its delay
 * shrinking at once by more than clockAheadLimitMs + outOfOrdernessMs, has its first meter's newest
 * readings look that far ahead of the others, and they are rejected (dead-lettered, so they can be
 * replayed). Catching up in time order across meters avoids it; so does a head-end that was down
 * rather than late (a silent line's clock is projected forward by the ingest time since).
 */
export const AMI_HEAD_END_TIMING: Omit<LineTimingRule, 'match'> = { outOfOrdernessMs: 15 * 60_000, idleTimeoutMs: 20 * 60_000 };

/** ProcessorOptions with every default filled in and checked. */
export type ResolvedProcessorOptions = Required<ProcessorOptions>;

export const DEFAULT_CLOCK_AHEAD_LIMIT_MS = 15 * 60_000;
export const DEFAULT_METER_CLOCK_TOLERANCE_MS = 2 * 60_000;
export const DEFAULT_METER_ACTIVE_MS = 2 * 60 * 60_000;

export const ANSI_C84_1 = {
  rangeALow: 114,
  rangeAHigh: 126,
  rangeBLow: 110,
  rangeBHigh: 127,
} as const;

/** Fills in defaults and rejects combinations that would make windows or rules ill-defined. */
export function resolveProcessorOptions(options: ProcessorOptions): ResolvedProcessorOptions {
  const resolved: ResolvedProcessorOptions = {
    windowSizeMs: options.windowSizeMs,
    hopMs: options.hopMs ?? options.windowSizeMs,
    perMeter: options.perMeter ?? false,
    outOfOrdernessMs: options.outOfOrdernessMs,
    allowedLatenessMs: options.allowedLatenessMs,
    idleTimeoutMs: options.idleTimeoutMs,
    voltageLow: options.voltageLow ?? ANSI_C84_1.rangeALow,
    voltageHigh: options.voltageHigh ?? ANSI_C84_1.rangeAHigh,
    rangeBLow: options.rangeBLow ?? ANSI_C84_1.rangeBLow,
    rangeBHigh: options.rangeBHigh ?? ANSI_C84_1.rangeBHigh,
    clearAfterWindows: options.clearAfterWindows ?? 2,
    lineTiming: (options.lineTiming ?? []).map((rule) => ({ ...rule })),
    clockAheadLimitMs: options.clockAheadLimitMs ?? DEFAULT_CLOCK_AHEAD_LIMIT_MS,
    meterClockToleranceMs: options.meterClockToleranceMs ?? DEFAULT_METER_CLOCK_TOLERANCE_MS,
    meterActiveMs: options.meterActiveMs ?? DEFAULT_METER_ACTIVE_MS,
  };
  const problems: string[] = [];
  const positiveInteger = (name: keyof ResolvedProcessorOptions) => {
    const value = resolved[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) problems.push(`${name} must be a positive integer, got ${String(value)}`);
  };
  // Watermarks and window ends are stored in snapshots (JSON), so the offsets that make them must be finite.
  const nonNegative = (name: string, value: unknown, finite: boolean) => {
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0 || (finite && !Number.isFinite(value))) {
      problems.push(`${name} must be a ${finite ? 'finite ' : ''}number >= 0, got ${String(value)}`);
    }
  };
  positiveInteger('windowSizeMs');
  positiveInteger('hopMs');
  positiveInteger('clearAfterWindows');
  nonNegative('outOfOrdernessMs', resolved.outOfOrdernessMs, true);
  nonNegative('allowedLatenessMs', resolved.allowedLatenessMs, true);
  nonNegative('idleTimeoutMs', resolved.idleTimeoutMs, false);
  nonNegative('clockAheadLimitMs', resolved.clockAheadLimitMs, false);
  nonNegative('meterClockToleranceMs', resolved.meterClockToleranceMs, false);
  if (!(resolved.meterActiveMs > 0)) problems.push(`meterActiveMs must be a number > 0, got ${String(resolved.meterActiveMs)}`);
  if (!Array.isArray(resolved.lineTiming)) problems.push('lineTiming must be an array of { match, outOfOrdernessMs?, allowedLatenessMs?, idleTimeoutMs? }');
  else {
    resolved.lineTiming.forEach((rule, i) => {
      const where = `lineTiming[${i}]`;
      const match: unknown = rule?.match;
      if (typeof match !== 'string' || match === '' || match.indexOf('*') !== (match.endsWith('*') ? match.length - 1 : -1)) {
        problems.push(`${where}.match must be a line id or a prefix ending in *, got ${JSON.stringify(match)}`);
      }
      for (const key of Object.keys(rule ?? {})) {
        if (key !== 'match' && key !== 'outOfOrdernessMs' && key !== 'allowedLatenessMs' && key !== 'idleTimeoutMs') problems.push(`${where} has an unknown field ${key}`);
      }
      if (rule?.outOfOrdernessMs !== undefined) nonNegative(`${where}.outOfOrdernessMs`, rule.outOfOrdernessMs, true);
      if (rule?.allowedLatenessMs !== undefined) nonNegative(`${where}.allowedLatenessMs`, rule.allowedLatenessMs, true);
      if (rule?.idleTimeoutMs !== undefined) nonNegative(`${where}.idleTimeoutMs`, rule.idleTimeoutMs, false);
    });
  }
  if (problems.length === 0 && resolved.windowSizeMs % resolved.hopMs !== 0) {
    problems.push(`hopMs (${resolved.hopMs}) must divide windowSizeMs (${resolved.windowSizeMs})`);
  }
  if (!(resolved.voltageLow < resolved.voltageHigh)) {
    problems.push(`voltageLow (${resolved.voltageLow}) must be below voltageHigh (${resolved.voltageHigh})`);
  }
  if (!(resolved.rangeBLow <= resolved.voltageLow)) {
    problems.push(`rangeBLow (${resolved.rangeBLow}) must not exceed voltageLow (${resolved.voltageLow})`);
  }
  if (!(resolved.rangeBHigh >= resolved.voltageHigh)) {
    problems.push(`rangeBHigh (${resolved.rangeBHigh}) must not be below voltageHigh (${resolved.voltageHigh})`);
  }
  if (problems.length > 0) throw new RangeError(`Invalid processor options: ${problems.join('; ')}`);
  return resolved;
}

/** The timing of line `lineId`: the first matching lineTiming rule over the global options. */
export function resolveLineTiming(options: ResolvedProcessorOptions, lineId: string): LineTiming {
  const rule = options.lineTiming.find(({ match }) => (match.endsWith('*') ? lineId.startsWith(match.slice(0, -1)) : lineId === match));
  return {
    outOfOrdernessMs: rule?.outOfOrdernessMs ?? options.outOfOrdernessMs,
    allowedLatenessMs: rule?.allowedLatenessMs ?? options.allowedLatenessMs,
    idleTimeoutMs: rule?.idleTimeoutMs ?? options.idleTimeoutMs,
  };
}
