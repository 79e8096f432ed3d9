import { parseReading, type ReadingEnvelope } from '@meterstream/contracts';

export interface ExpectedWindow {
  lineId: string;
  windowStart: number;
  count: number;
  meters: number;
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p5: number;
  p95: number;
  /** Undefined when no reading of the window carried kwh. */
  energyKwh: number | undefined;
}

/** The smallest value such that at least `percent` % of the values are <= it (nearest rank), by definition. */
function percentile(values: number[], percent: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.find((v) => 100 * values.filter((x) => x <= v).length >= percent * values.length)!;
}

/** Per meter, last minus first kWh by event time (0 when the register went backwards), summed. */
function energy(group: ReadingEnvelope[]): number | undefined {
  const byMeter = new Map<string, ReadingEnvelope[]>();
  for (const r of group) {
    if (r.body.kwh === undefined) continue;
    byMeter.set(r.body.deviceId, [...(byMeter.get(r.body.deviceId) ?? []), r]);
  }
  if (byMeter.size === 0) return undefined;
  let sum = 0;
  for (const readings of byMeter.values()) {
    readings.sort((a, b) => a.eventTime - b.eventTime);
    sum += Math.max(0, readings[readings.length - 1].body.kwh! - readings[0].body.kwh!);
  }
  return sum;
}

/**
 * The batch answer the streaming pipeline must reproduce: every valid reading counted once (by
 * id), grouped by line and tumbling window, statistics computed the plain two-pass way and
 * percentiles and energy straight from their definitions.
 */
export function expectedAggregates(messages: { topic: string; payload: Buffer }[], windowMs: number): Map<string, ExpectedWindow> {
  const unique = new Map<string, ReadingEnvelope>();
  for (const m of messages) {
    const parsed = parseReading(m.topic, m.payload, { ingestTime: Date.now() + 365 * 86_400_000 });
    if (parsed.ok) unique.set(parsed.envelope.id, parsed.envelope);
  }
  const groups = new Map<string, ReadingEnvelope[]>();
  for (const r of unique.values()) {
    const key = `${r.lineId}@${Math.floor(r.eventTime / windowMs) * windowMs}`;
    const group = groups.get(key) ?? [];
    group.push(r);
    groups.set(key, group);
  }
  const out = new Map<string, ExpectedWindow>();
  for (const [key, group] of groups) {
    const volts = group.map((r) => r.body.voltage);
    const mean = volts.reduce((a, b) => a + b, 0) / volts.length;
    const variance = volts.reduce((a, v) => a + (v - mean) ** 2, 0) / volts.length;
    out.set(key, {
      lineId: group[0].lineId,
      windowStart: Math.floor(group[0].eventTime / windowMs) * windowMs,
      count: group.length,
      meters: new Set(group.map((r) => r.deviceId)).size,
      min: Math.min(...volts),
      max: Math.max(...volts),
      mean,
      stddev: Math.sqrt(variance),
      p5: percentile(volts, 5),
      p95: percentile(volts, 95),
      energyKwh: energy(group),
    });
  }
  return out;
}
