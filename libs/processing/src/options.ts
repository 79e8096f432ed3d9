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
  /** Watermark = max event time seen on the partition minus this. */
  outOfOrdernessMs: number;
  /** A window fires when its partition's watermark reaches windowEnd + allowedLatenessMs (the grace period). */
  allowedLatenessMs: number;
  /**
   * Processing time without events after which a partition counts as idle and its watermark starts
   * to follow processing time. Use Infinity to disable.
   */
  idleTimeoutMs: number;
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

/** ProcessorOptions with every default filled in and checked. */
export type ResolvedProcessorOptions = Required<ProcessorOptions>;

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
  };
  const problems: string[] = [];
  const positiveInteger = (name: keyof ResolvedProcessorOptions) => {
    const value = resolved[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) problems.push(`${name} must be a positive integer, got ${String(value)}`);
  };
  const nonNegative = (name: keyof ResolvedProcessorOptions) => {
    const value = resolved[name];
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) problems.push(`${name} must be a number >= 0, got ${String(value)}`);
  };
  positiveInteger('windowSizeMs');
  positiveInteger('hopMs');
  positiveInteger('clearAfterWindows');
  nonNegative('outOfOrdernessMs');
  nonNegative('allowedLatenessMs');
  nonNegative('idleTimeoutMs');
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
