import type { Fleet, LineModel, MeterModel } from '../fleet/fleet';
import { round } from '../fleet/fleet';
import { toEpochMs, type ResolvedOptions } from '../options';
import { NOISE_LIMIT_SIGMAS, REGULATOR_TAP_V, VOLTAGE_NOISE_SIGMA, dropProfile } from '../physics/feeder';
import { LOAD_MAX, LOAD_MIN } from '../physics/load-curve';
import { Random } from '../random';
import {
  MALFORMED_VARIETIES,
  isMessageFaultSpec,
  type FaultLabel,
  type IntervalFaultKind,
  type IntervalFaultSpec,
  type MalformedVariety,
  type MessageFaultKind,
  type MessageFaultSpec,
} from './fault-spec';

/** A fault interval resolved against the fleet, in epoch ms. */
export interface ScheduledFault {
  kind: IntervalFaultKind;
  line: LineModel;
  /** drift and stuck only. */
  meter?: MeterModel;
  start: number;
  end: number;
  /** Added to the substation bus while active (line faults); 0 for meter faults. */
  busShiftV: number;
  /** drift only. */
  voltsPerHour: number;
  params: Record<string, number>;
}

/** A message-level fault resolved against the fleet. */
export interface MessageFaultRule {
  kind: MessageFaultKind;
  probability: number;
  lineIndex?: number;
  meterIndex?: number;
  start: number;
  end: number;
  varieties: readonly MalformedVariety[];
  minDelayMs: number;
  maxDelayMs: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

const DEFAULT_DELAYS: Record<MessageFaultKind, [number, number]> = {
  malformed: [0, 0],
  duplicate: [0, 2_000],
  'out-of-order': [1_000, 10_000],
  late: [2 * MINUTE_MS, 10 * MINUTE_MS],
};

/** The demo profile's message-level noise: rare enough to look like a real fleet, frequent enough to see. */
const DEMO_MESSAGE_FAULTS: MessageFaultSpec[] = [
  { kind: 'malformed', probability: 0.001 },
  { kind: 'duplicate', probability: 0.002 },
  { kind: 'out-of-order', probability: 0.002 },
  { kind: 'late', probability: 0.0005 },
];

/**
 * The demo profile's interval faults, one of each per cycle, in a shuffled order without
 * overlapping in time so each one is clearly visible on its own. A cycle is the whole run, or a
 * day when the run is longer or endless; durations shrink to at most `maxShare` of the cycle so a
 * one-hour run still shows every kind.
 */
const DEMO_INTERVAL_FAULTS: Array<{ kind: IntervalFaultKind; minutes: [number, number]; maxShare: number }> = [
  { kind: 'sag', minutes: [3, 10], maxShare: 0.08 },
  { kind: 'swell', minutes: [2, 6], maxShare: 0.08 },
  { kind: 'failed-regulator', minutes: [120, 240], maxShare: 0.25 },
  { kind: 'drift', minutes: [60, 180], maxShare: 0.2 },
  { kind: 'stuck', minutes: [30, 90], maxShare: 0.15 },
];

/** The run's fault intervals in order of start time; lazy, because an endless run has endless faults. */
export function* scheduledFaults(options: ResolvedOptions, fleet: Fleet): Generator<ScheduledFault> {
  if (options.faults === 'none') return;
  if (options.faults === 'demo') {
    yield* demoFaults(options, fleet);
    return;
  }
  const explicit = options.faults
    .filter((spec): spec is IntervalFaultSpec => !isMessageFaultSpec(spec))
    .map((spec, i) => resolveIntervalSpec(spec, fleet, `faults[${i}]`));
  yield* explicit.sort((a, b) => a.start - b.start);
}

export function messageFaultRules(options: ResolvedOptions, fleet: Fleet): MessageFaultRule[] {
  if (options.faults === 'none') return [];
  const specs = options.faults === 'demo' ? DEMO_MESSAGE_FAULTS : options.faults.filter(isMessageFaultSpec);
  return specs.map((spec, i) => resolveMessageSpec(spec, fleet, `faults[${i}]`));
}

/** Checks every explicit spec up front, so a bad schedule fails before anything is published. */
export function validateFaultSpecs(options: ResolvedOptions, fleet: Fleet): void {
  if (typeof options.faults === 'string') return;
  options.faults.forEach((spec, i) => {
    if (isMessageFaultSpec(spec)) resolveMessageSpec(spec, fleet, `faults[${i}]`);
    else resolveIntervalSpec(spec, fleet, `faults[${i}]`);
  });
}

export function toFaultLabel(fault: ScheduledFault): FaultLabel {
  return {
    kind: fault.kind,
    lineId: fault.line.lineId,
    ...(fault.meter ? { deviceId: fault.meter.deviceId } : {}),
    start: new Date(fault.start).toISOString(),
    end: new Date(fault.end).toISOString(),
    params: fault.params,
  };
}

function* demoFaults(options: ResolvedOptions, fleet: Fleet): Generator<ScheduledFault> {
  const cycleMs = Math.min(options.end - options.start, DAY_MS);
  if (!(cycleMs > 0)) return;
  for (let cycle = 0; ; cycle++) {
    const cycleStart = options.start + cycle * cycleMs;
    if (cycleStart >= options.end) return;
    yield* demoCycle(options, fleet, cycle, cycleStart, Math.min(cycleStart + cycleMs, options.end));
  }
}

function demoCycle(options: ResolvedOptions, fleet: Fleet, cycle: number, cycleStart: number, cycleEnd: number): ScheduledFault[] {
  const random = Random.for(options.seed, 'demo-faults', cycle);
  const cycleMs = cycleEnd - cycleStart;
  const kinds = random.shuffle(DEMO_INTERVAL_FAULTS);
  const lines = random.shuffle(fleet.lines);
  const durations = kinds.map(({ minutes, maxShare }) => {
    const wanted = random.uniform(minutes[0], minutes[1]) * MINUTE_MS;
    return Math.floor(Math.min(wanted, maxShare * cycleMs) / 1000) * 1000;
  });
  const free = cycleMs - durations.reduce((a, b) => a + b, 0);
  const weights = Array.from({ length: kinds.length + 1 }, () => random.uniform(0.2, 1));
  const weightSum = weights.reduce((a, b) => a + b, 0);

  const faults: ScheduledFault[] = [];
  let t = cycleStart;
  kinds.forEach(({ kind }, i) => {
    t += Math.floor((free * weights[i]) / weightSum / 1000) * 1000; // whole seconds read better in labels
    const start = t;
    const end = start + durations[i];
    t = end;
    if (durations[i] < 1000) return; // a cycle of a few seconds has no room for this fault
    const line = lines[i % lines.length];
    const meter = kind === 'drift' || kind === 'stuck' ? line.meters[random.int(0, line.meters.length - 1)] : undefined;
    faults.push(demoFault(kind, line, meter, start, end, random));
  });
  return faults;
}

/** Sizes each demo fault so it is unmistakable on this particular line. */
function demoFault(kind: IntervalFaultKind, line: LineModel, meter: MeterModel | undefined, start: number, end: number, random: Random): ScheduledFault {
  const noise = VOLTAGE_NOISE_SIGMA * NOISE_LIMIT_SIGMAS;
  const head = line.meters[0];
  const tail = line.meters[line.meters.length - 1];
  const base = { kind, line, meter, start, end, voltsPerHour: 0 };
  switch (kind) {
    case 'sag': {
      // Deep enough that the tail meter is below 114 V even at night, when it is highest.
      const tailHighest = line.substationV - line.dropAtPeakV * LOAD_MIN * dropProfile(tail.position) + tail.offsetV + noise;
      const deltaV = ceilTenth(Math.max(random.uniform(8, 12), tailHighest - 113.5));
      return { ...base, busShiftV: -deltaV, params: { deltaV } };
    }
    case 'swell': {
      // High enough that the head meter is above 126 V even at peak, when it is lowest.
      const headLowest = line.substationV - line.dropAtPeakV * LOAD_MAX * dropProfile(head.position) + head.offsetV - noise;
      const deltaV = ceilTenth(Math.max(random.uniform(5, 8), 126.5 - headLowest));
      return { ...base, busShiftV: deltaV, params: { deltaV } };
    }
    case 'failed-regulator': {
      const taps = random.int(8, 12);
      const deltaV = round(taps * REGULATOR_TAP_V, 3);
      return { ...base, busShiftV: -deltaV, params: { taps, deltaV } };
    }
    case 'drift': {
      const voltsPerHour = round((random.chance(0.5) ? 1 : -1) * random.uniform(0.5, 1.5), 2);
      return { ...base, busShiftV: 0, voltsPerHour, params: { voltsPerHour } };
    }
    case 'stuck':
      return { ...base, busShiftV: 0, params: {} };
  }
}

const INTERVAL_KINDS: readonly string[] = ['sag', 'swell', 'failed-regulator', 'drift', 'stuck'];

function resolveIntervalSpec(spec: IntervalFaultSpec, fleet: Fleet, where: string): ScheduledFault {
  if (!INTERVAL_KINDS.includes(spec.kind)) {
    throw new Error(`${where}: unknown fault kind "${spec.kind}"; expected one of ${[...INTERVAL_KINDS, 'malformed', 'duplicate', 'out-of-order', 'late'].join(', ')}`);
  }
  const line = fleet.lineByLineId.get(spec.lineId);
  if (!line) throw new Error(`${where} (${spec.kind}): no line "${spec.lineId}" in this fleet`);
  const start = toEpochMs(spec.start, `${where}.start`);
  const end = toEpochMs(spec.end, `${where}.end`);
  if (!(end > start)) throw new Error(`${where} (${spec.kind}): end must be after start`);
  const base = { kind: spec.kind, line, start, end, voltsPerHour: 0, busShiftV: 0 };

  const magnitude = (value: number | undefined, fallback: number, name: string): number => {
    const v = value ?? fallback;
    if (!(v > 0 && v < 100)) throw new Error(`${where} (${spec.kind}): ${name} must be a positive number of volts below 100, got ${v}`);
    return v;
  };
  switch (spec.kind) {
    case 'sag': {
      const deltaV = magnitude(spec.params?.deltaV, 10, 'params.deltaV');
      return { ...base, busShiftV: -deltaV, params: { deltaV } };
    }
    case 'swell': {
      const deltaV = magnitude(spec.params?.deltaV, 6, 'params.deltaV');
      return { ...base, busShiftV: deltaV, params: { deltaV } };
    }
    case 'failed-regulator': {
      const taps = spec.params?.taps ?? (spec.params?.deltaV !== undefined ? round(spec.params.deltaV / REGULATOR_TAP_V, 2) : 10);
      const deltaV = magnitude(spec.params?.deltaV ?? round(taps * REGULATOR_TAP_V, 3), 0, 'params.deltaV (or taps)');
      return { ...base, busShiftV: -deltaV, params: { taps, deltaV } };
    }
    case 'drift':
    case 'stuck': {
      const meter = fleet.meterByDeviceId.get(spec.deviceId);
      if (!meter || meter.lineIndex !== line.index) throw new Error(`${where} (${spec.kind}): no meter "${spec.deviceId}" on line "${spec.lineId}"`);
      if (spec.kind === 'stuck') return { ...base, meter, params: {} };
      const voltsPerHour = spec.params?.voltsPerHour ?? 0.5;
      if (!Number.isFinite(voltsPerHour)) throw new Error(`${where} (drift): params.voltsPerHour must be a number`);
      return { ...base, meter, voltsPerHour, params: { voltsPerHour } };
    }
  }
}

function resolveMessageSpec(spec: MessageFaultSpec, fleet: Fleet, where: string): MessageFaultRule {
  if (!(spec.probability >= 0 && spec.probability <= 1)) throw new Error(`${where} (${spec.kind}): probability must be in [0, 1], got ${spec.probability}`);
  const rule: MessageFaultRule = {
    kind: spec.kind,
    probability: spec.probability,
    start: spec.start === undefined ? -Infinity : toEpochMs(spec.start, `${where}.start`),
    end: spec.end === undefined ? Infinity : toEpochMs(spec.end, `${where}.end`),
    varieties: spec.params?.varieties ?? MALFORMED_VARIETIES,
    minDelayMs: spec.params?.minDelayMs ?? DEFAULT_DELAYS[spec.kind][0],
    maxDelayMs: spec.params?.maxDelayMs ?? DEFAULT_DELAYS[spec.kind][1],
  };
  if (spec.lineId !== undefined) {
    const line = fleet.lineByLineId.get(spec.lineId);
    if (!line) throw new Error(`${where} (${spec.kind}): no line "${spec.lineId}" in this fleet`);
    rule.lineIndex = line.index;
  }
  if (spec.deviceId !== undefined) {
    const meter = fleet.meterByDeviceId.get(spec.deviceId);
    if (!meter) throw new Error(`${where} (${spec.kind}): no meter "${spec.deviceId}" in this fleet`);
    rule.meterIndex = meter.index;
  }
  if (rule.varieties.length === 0 || rule.varieties.some((v) => !MALFORMED_VARIETIES.includes(v))) {
    throw new Error(`${where} (malformed): params.varieties must be a non-empty subset of ${MALFORMED_VARIETIES.join(', ')}`);
  }
  if (!(rule.minDelayMs >= 0 && rule.maxDelayMs >= rule.minDelayMs)) throw new Error(`${where} (${spec.kind}): need 0 <= minDelayMs <= maxDelayMs`);
  return rule;
}

function ceilTenth(value: number): number {
  return Math.ceil(value * 10 - 1e-9) / 10;
}
