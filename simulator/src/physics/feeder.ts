/**
 * Voltage along a radial feeder.
 *
 * V(x, t) = V_sub − D·L(t)·x·(2 − x) + offset + noise
 *
 * x ∈ (0, 1] is the meter's position from the substation to the end of the line, L(t) the load
 * factor and D the drop at the end of the line at peak load. x·(2 − x) is the drop profile of a
 * feeder whose load is spread evenly along it: the current, and so the drop per metre, shrinks
 * towards the end, so the curve flattens at the tail. offset is the meter's own service
 * transformer and secondary drop.
 */

/** ANSI C84.1 Range A at the service point, 120 V base. */
export const ANSI_RANGE_A = { min: 114, max: 126 } as const;

/** Measurement noise on a reading, volts; bounded at ±3σ. */
export const VOLTAGE_NOISE_SIGMA = 0.25;
export const NOISE_LIMIT_SIGMAS = 3;

/** One regulator tap: 5/8 % of 120 V. */
export const REGULATOR_TAP_V = 0.75;

/** Substation bus setpoint range, volts. */
export const SUBSTATION_V = { min: 122.5, max: 124.5 } as const;
/**
 * Where the last meter of a healthy line sits at peak before its own offset. With the offsets
 * (−1.0..+0.3 V) and noise (±0.75 V) a healthy line stays in 114.75–125.55 V: inside Range A.
 */
export const TAIL_AT_PEAK_V = { min: 116.5, max: 117.5 } as const;
export const METER_OFFSET_V = { min: -1.0, max: 0.3 } as const;

export function dropProfile(x: number): number {
  return x * (2 - x);
}

/** Noise-free voltage at a meter; busShiftV is the sum of active line faults (negative for a sag). */
export function meterVoltage(substationV: number, dropAtPeakV: number, load: number, position: number, offsetV: number, busShiftV: number): number {
  return substationV + busShiftV - dropAtPeakV * load * dropProfile(position) + offsetV;
}
