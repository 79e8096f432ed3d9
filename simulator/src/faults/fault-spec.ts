/**
 * What can go wrong in a simulated run, and the ground-truth labels that say what did.
 *
 * Three levels: a whole line (sag, swell, failed-regulator), one meter (drift, stuck), one
 * message (malformed, duplicate, out-of-order, late). Times in specs are epoch ms or ISO-8601;
 * every interval is half-open, [start, end).
 */

export type LineFaultKind = 'sag' | 'swell' | 'failed-regulator';
export type MeterFaultKind = 'drift' | 'stuck';
export type IntervalFaultKind = LineFaultKind | MeterFaultKind;
export type MessageFaultKind = 'malformed' | 'duplicate' | 'out-of-order' | 'late';

/** The ways a malformed message can be wrong; each one must be rejected by the ingest contract. */
export const MALFORMED_VARIETIES = [
  'invalid-json',
  'missing-voltage',
  'voltage-string',
  'unparseable-ts',
  'lineid-mismatch',
  'epoch-seconds',
  'non-object',
] as const;
export type MalformedVariety = (typeof MALFORMED_VARIETIES)[number];

export type SimTime = number | string;

interface IntervalSpecBase {
  lineId: string;
  start: SimTime;
  end: SimTime;
}

/** The substation bus drops by deltaV volts (default 10) for the whole line. */
export interface SagSpec extends IntervalSpecBase {
  kind: 'sag';
  params?: { deltaV?: number };
}

/** The bus rises by deltaV volts (default 6). */
export interface SwellSpec extends IntervalSpecBase {
  kind: 'swell';
  params?: { deltaV?: number };
}

/**
 * The line regulator is stuck `taps` steps of 5/8 % (0.75 V on the 120 V base) too low; default
 * 10 taps, 7.5 V. `deltaV` overrides the tap arithmetic.
 */
export interface FailedRegulatorSpec extends IntervalSpecBase {
  kind: 'failed-regulator';
  params?: { taps?: number; deltaV?: number };
}

/** One meter's voltage reading drifts linearly from the fault start (default +0.5 V/hour). */
export interface DriftSpec extends IntervalSpecBase {
  kind: 'drift';
  deviceId: string;
  params?: { voltsPerHour?: number };
}

/** One meter's instantaneous values (voltage, current, kW, power factor) freeze at their last value. */
export interface StuckSpec extends IntervalSpecBase {
  kind: 'stuck';
  deviceId: string;
  params?: Record<string, never>;
}

export type IntervalFaultSpec = SagSpec | SwellSpec | FailedRegulatorSpec | DriftSpec | StuckSpec;

/**
 * Each message in scope (optional lineId, deviceId and [start, end) of its event time) suffers
 * this fault with the given probability. At most one message-level fault hits a message; when
 * several specs apply, their probabilities stack in the order given.
 */
export interface MessageFaultSpec {
  kind: MessageFaultKind;
  probability: number;
  lineId?: string;
  deviceId?: string;
  start?: SimTime;
  end?: SimTime;
  params?: {
    /** malformed: which varieties to draw from (default all). */
    varieties?: MalformedVariety[];
    /** out-of-order (default 1–10 s), late (default 2–10 min), duplicate (default 0–2 s). */
    minDelayMs?: number;
    maxDelayMs?: number;
  };
}

export type FaultSpec = IntervalFaultSpec | MessageFaultSpec;

export type FaultProfile = 'none' | 'demo';

/** Ground truth for one fault interval, as written to the labels JSONL. */
export interface FaultLabel {
  kind: IntervalFaultKind;
  lineId: string;
  deviceId?: string;
  /** ISO-8601 UTC. */
  start: string;
  end: string;
  /** The resolved parameters, defaults filled in (deltaV in volts, voltsPerHour, taps). */
  params: Record<string, number>;
}

/** Ground truth for one injected message-level event. */
export interface MessageLabel {
  kind: MessageFaultKind;
  lineId: string;
  deviceId?: string;
  topic: string;
  /** Index of the message in the published sequence (SimMessage.seq). */
  seq: number;
  /** Event time of the reading the message carries (or was meant to carry), ISO-8601. */
  eventTime?: string;
  /** malformed: the variety. */
  reason?: string;
  /** duplicate: seq of the original message, which has byte-identical payload. */
  originalSeq?: number;
  /** out-of-order, late, duplicate: how long after its event time the message was sent. */
  delayMs?: number;
}

export function isMessageFaultSpec(spec: FaultSpec): spec is MessageFaultSpec {
  return spec.kind === 'malformed' || spec.kind === 'duplicate' || spec.kind === 'out-of-order' || spec.kind === 'late';
}
