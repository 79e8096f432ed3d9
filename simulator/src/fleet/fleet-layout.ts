import { resolveOptions, type SimulatorOptions } from '../options';
import { buildFleet } from './fleet';

export interface MeterLayout {
  deviceId: string;
  /** Fraction of the line from the substation, (0, 1]. */
  position: number;
  /** Service transformer and secondary drop, volts. */
  offsetV: number;
  baseKw: number;
  powerFactor: number;
}

export interface LineLayout {
  lineId: string;
  topic: string;
  substationV: number;
  /** Drop from the bus to the end of the line at peak load, volts. */
  dropAtPeakV: number;
  /** From the head (next to the substation) to the tail. */
  meters: MeterLayout[];
}

/** The simulated feeders and meters for these options: ground truth for tests and dashboards. */
export function fleetLayout(options: SimulatorOptions): LineLayout[] {
  return buildFleet(resolveOptions(options)).lines.map((line) => ({
    lineId: line.lineId,
    topic: line.topic,
    substationV: line.substationV,
    dropAtPeakV: line.dropAtPeakV,
    meters: line.meters.map(({ deviceId, position, offsetV, baseKw, powerFactor }) => ({ deviceId, position, offsetV, baseKw, powerFactor })),
  }));
}
