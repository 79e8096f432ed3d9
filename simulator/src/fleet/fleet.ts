import { readingTopic } from '@meterstream/contracts';
import type { ResolvedOptions } from '../options';
import { METER_OFFSET_V, SUBSTATION_V, TAIL_AT_PEAK_V } from '../physics/feeder';
import { Random } from '../random';

export interface MeterModel {
  /** 0-based over the whole fleet. */
  index: number;
  lineIndex: number;
  indexOnLine: number;
  deviceId: string;
  /** Distance from the substation as a fraction of the line, (0, 1]; the last meter sits at 1. */
  position: number;
  /** Service transformer and secondary drop, volts. */
  offsetV: number;
  /** Load at the peak of the daily curve, kW. */
  baseKw: number;
  powerFactor: number;
  /** Energy register at the start of the run, kWh. */
  initialKwh: number;
  /** When in each interval the meter reports, ms after the interval boundary (meters are not synchronised). */
  phaseMs: number;
}

export interface LineModel {
  index: number;
  lineId: string;
  topic: string;
  /** Substation bus setpoint, volts. */
  substationV: number;
  /** Drop from the bus to the end of the line at peak load, volts (D). */
  dropAtPeakV: number;
  /** Meters ordered from the substation (head) to the end of the line (tail). */
  meters: MeterModel[];
}

export interface Fleet {
  lines: LineModel[];
  meters: MeterModel[];
  lineByLineId: Map<string, LineModel>;
  meterByDeviceId: Map<string, MeterModel>;
}

/**
 * The physical layout of the run. Every line and every meter draws from its own seeded stream,
 * so line L03 looks the same whether the run has 5 lines or 50.
 */
export function buildFleet(options: ResolvedOptions): Fleet {
  const lines: LineModel[] = [];
  const meters: MeterModel[] = [];
  const idWidth = Math.max(6, String(options.lines * options.metersPerLine).length);
  for (let l = 0; l < options.lines; l++) {
    const lineRandom = Random.for(options.seed, 'line', l);
    const substationV = round(lineRandom.uniform(SUBSTATION_V.min, SUBSTATION_V.max), 2);
    const tailAtPeak = lineRandom.uniform(TAIL_AT_PEAK_V.min, TAIL_AT_PEAK_V.max);
    const lineId = options.lineIds[l];
    const line: LineModel = {
      index: l,
      lineId,
      topic: readingTopic(lineId),
      substationV,
      dropAtPeakV: round(substationV - tailAtPeak, 3),
      meters: [],
    };
    const n = options.metersPerLine;
    for (let j = 0; j < n; j++) {
      const r = Random.for(options.seed, 'meter', l, j);
      const index = l * n + j;
      // Evenly spread with jitter, strictly increasing: meter j sits in ((j + 0.6)/n, (j + 1)/n].
      const position = j === n - 1 ? 1 : (j + 1 - 0.4 * r.next()) / n;
      const meter: MeterModel = {
        index,
        lineIndex: l,
        indexOnLine: j,
        deviceId: `m-${String(index + 1).padStart(idWidth, '0')}`,
        position,
        offsetV: round(r.uniform(METER_OFFSET_V.min, METER_OFFSET_V.max), 3),
        baseKw: round(r.uniform(0.5, 3), 3),
        powerFactor: round(r.uniform(0.9, 0.99), 2),
        initialKwh: round(r.uniform(1_000, 50_000), 3),
        phaseMs: Math.floor(r.next() * options.intervalMs),
      };
      line.meters.push(meter);
      meters.push(meter);
    }
    lines.push(line);
  }
  return {
    lines,
    meters,
    lineByLineId: new Map(lines.map((line) => [line.lineId, line])),
    meterByDeviceId: new Map(meters.map((meter) => [meter.deviceId, meter])),
  };
}

export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}
