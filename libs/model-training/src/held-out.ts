import { isRaise, type AggregateEnvelope, type AlertEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { DEFAULT_MODEL_OPTIONS, VoltageModelRule, type LineModelParameters, type VoltageModelOptions } from '@meterstream/processing';

export interface HeldOutError {
  /** Mean absolute error of the a-priori predictions of every reading (V); NaN without readings. */
  mae: number;
  count: number;
  /** Mean absolute error of the line windows against the line baseline (V); NaN without windows. */
  baselineMae: number;
  windows: number;
  lines: Record<string, { mae: number; count: number }>;
  /** Model-based alerts the processor would have raised over these readings with this model. */
  alertsRaised: number;
}

export interface HeldOutOptions {
  modelOptions?: VoltageModelOptions;
  /** The processor's line window; default one minute. */
  windowSizeMs?: number;
}

/**
 * The error the processor would have had on `readings` (event order per line) starting from
 * these parameters — or, with null, learning online from scratch. The readings run through the
 * processor's own VoltageModelRule (a fresh LineVoltageModel per line with the parameters
 * installed): each reading is scored *before* the model sees it, then learned from and followed
 * exactly as the processor does, including keeping suspect meters and line-wide jumps out of
 * the learning. Line windows (one-minute event-time means) are fed to the rule as the processor
 * fires them, so the baseline learns too; a window fires at the first reading past its end.
 */
export function heldOutError(parameters: Record<string, LineModelParameters> | null, readings: Iterable<ReadingEnvelope>, options: HeldOutOptions = {}): HeldOutError {
  const windowSizeMs = options.windowSizeMs ?? 60_000;
  const lines = new Map<string, { sum: number; count: number }>();
  let baselineSum = 0;
  let windows = 0;
  let alertsRaised = 0;
  const rule = new VoltageModelRule({}, options.modelOptions ?? DEFAULT_MODEL_OPTIONS, (reading, scored) => {
    const line = lines.get(reading.lineId)!;
    line.sum += Math.abs(scored.residual);
    line.count++;
  });
  if (parameters !== null) rule.installModel({ version: 1, createdAt: '', trainedOn: { from: 0, to: 0 }, lines: parameters });
  const countRaised = (alert: AlertEnvelope) => {
    if (isRaise(alert.body)) alertsRaised++;
  };
  const open = new Map<string, WindowSums>();
  const fire = (w: WindowSums) => {
    const before = rule.lineModel(w.lineId);
    const aggregate = lineAggregate(w, windowSizeMs);
    // Score what the baseline expects before the rule learns from the window.
    if (before !== undefined) {
      const scored = before.scoreWindow(w.start + windowSizeMs / 2, aggregate.body.voltage.mean, aggregate.body.kw?.mean);
      baselineSum += Math.abs(scored.residual);
      windows++;
    }
    rule.onAggregate(aggregate, countRaised);
  };

  for (const reading of readings) {
    if (!lines.has(reading.lineId)) lines.set(reading.lineId, { sum: 0, count: 0 });
    const start = Math.floor(reading.eventTime / windowSizeMs) * windowSizeMs;
    let w = open.get(reading.lineId);
    if (w !== undefined && w.start !== start) {
      fire(w);
      w = undefined;
    }
    if (w === undefined) open.set(reading.lineId, (w = { lineId: reading.lineId, start, voltage: 0, count: 0, kw: 0, kwCount: 0 }));
    w.voltage += reading.body.voltage;
    w.count++;
    if (typeof reading.body.kw === 'number') {
      w.kw += reading.body.kw;
      w.kwCount++;
    }
    rule.onReading(reading, countRaised);
  }
  for (const w of open.values()) fire(w);

  let sum = 0;
  let count = 0;
  const perLine: HeldOutError['lines'] = {};
  for (const [lineId, line] of [...lines].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    perLine[lineId] = { mae: line.count === 0 ? NaN : line.sum / line.count, count: line.count };
    sum += line.sum;
    count += line.count;
  }
  return { mae: count === 0 ? NaN : sum / count, count, baselineMae: windows === 0 ? NaN : baselineSum / windows, windows, lines: perLine, alertsRaised };
}

interface WindowSums {
  lineId: string;
  start: number;
  voltage: number;
  count: number;
  kw: number;
  kwCount: number;
}

/** The fields of a per-line aggregate the voltage-model rule reads. */
function lineAggregate(w: WindowSums, windowSizeMs: number): AggregateEnvelope {
  const mean = w.voltage / w.count;
  return {
    v: 1,
    type: 'aggregate',
    id: `held-out:${w.lineId}:${w.start}`,
    lineId: w.lineId,
    deviceId: null,
    eventTime: w.start,
    ingestTime: w.start + windowSizeMs,
    body: {
      lineId: w.lineId,
      windowStart: w.start,
      windowEnd: w.start + windowSizeMs,
      count: w.count,
      meters: 0,
      voltage: { min: mean, max: mean, mean, stddev: 0, p5: mean, p95: mean },
      ...(w.kwCount > 0 ? { kw: { mean: w.kw / w.kwCount, max: w.kw / w.kwCount } } : {}),
    },
  };
}
