import { CvrPhysics } from '../cvr/cvr-physics';
import { FaultTimeline } from '../faults/fault-timeline';
import { messageFaultRules, scheduledFaults, toFaultLabel, validateFaultSpecs, type MessageFaultRule } from '../faults/fault-schedule';
import type { FaultLabel, MessageLabel } from '../faults/fault-spec';
import { malformedPayload, type ReadingPayload } from '../faults/malformed';
import { buildFleet, round, type Fleet, type MeterModel } from '../fleet/fleet';
import { resolveOptions, type ResolvedOptions, type SimulatorOptions } from '../options';
import { NOISE_LIMIT_SIGMAS, VOLTAGE_NOISE_SIGMA, meterVoltage } from '../physics/feeder';
import { loadFactor } from '../physics/load-curve';
import { Random } from '../random';
import { SendQueue } from './send-queue';

export interface SimMessage {
  /** Index in the published sequence, from 0. */
  seq: number;
  topic: string;
  payload: Buffer;
  /** When the message is sent, in simulated time (epoch ms); later than its event time if delayed. */
  simTime: number;
  /** Present for injected message-level events. */
  label?: MessageLabel;
  /** false for malformed messages. */
  valid: boolean;
}

const HOUR_MS = 3_600_000;
/** Spread of a household's load around the daily curve (relative, bounded at ±3σ). */
const LOAD_NOISE_SIGMA = 0.03;

interface MeterState {
  kwh: number;
  last?: Measurement;
  /** Set while the meter is stuck: the values it keeps repeating. */
  frozen?: Measurement;
}

interface Measurement {
  voltage: number;
  current: number;
  powerFactor: number;
  kw: number;
}

type Outgoing = Omit<SimMessage, 'seq'>;

/**
 * Every message of the run in send order: a pure function of the options. Options and fault
 * specs are checked when this is called, before the first message.
 */
export function generateMessages(options: SimulatorOptions): Generator<SimMessage> {
  return generateRun(options).messages;
}

/** The messages and, with `options.cvr`, the CVR programme whose truth fills in as they are generated. */
export function generateRun(options: SimulatorOptions): { messages: Generator<SimMessage>; cvr?: CvrPhysics } {
  const resolved = resolveOptions(options);
  const fleet = buildFleet(resolved);
  validateFaultSpecs(resolved, fleet);
  const cvr = resolved.cvr ? new CvrPhysics(resolved.seed, fleet, resolved.cvr, resolved.start) : undefined;
  return { messages: messages(resolved, fleet, cvr), cvr };
}

/** The fault intervals of the run. An endless run lists the first `horizonMs` (default a day). */
export function faultLabels(options: SimulatorOptions, horizonMs = 24 * HOUR_MS): FaultLabel[] {
  const resolved = resolveOptions(options);
  const fleet = buildFleet(resolved);
  validateFaultSpecs(resolved, fleet);
  const limit = Number.isFinite(resolved.end) ? resolved.end : resolved.start + horizonMs;
  const labels: FaultLabel[] = [];
  for (const fault of scheduledFaults(resolved, fleet)) {
    if (fault.start >= limit) break;
    labels.push(toFaultLabel(fault));
  }
  return labels;
}

function* messages(options: ResolvedOptions, fleet: Fleet, cvr?: CvrPhysics): Generator<SimMessage> {
  const { start, end, intervalMs } = options;
  // Within an interval meters report in order of their phase, so event times only increase.
  const reportOrder = fleet.meters.slice().sort((a, b) => a.phaseMs - b.phaseMs || a.index - b.index);
  const gapToNextOnLine = nextReportGaps(fleet, intervalMs);
  const states: MeterState[] = fleet.meters.map((meter) => ({ kwh: meter.initialKwh }));
  const timeline = new FaultTimeline(scheduledFaults(options, fleet), fleet);
  const rules = messageFaultRules(options, fleet);
  // Separate streams: message faults never change the physics, and vice versa.
  const noise = Random.for(options.seed, 'noise');
  const chaos = Random.for(options.seed, 'message-faults');
  const held = new SendQueue<Outgoing>();
  // After a delayed message, its line's messages up to the next later report go out untouched:
  // that report is the one that overtakes it.
  const untouchedUntil = new Float64Array(fleet.lines.length).fill(-Infinity);
  const intervalHours = intervalMs / HOUR_MS;
  let seq = 0;
  const send = (out: Outgoing): SimMessage => {
    const message: SimMessage = { seq: seq++, topic: out.topic, payload: out.payload, simTime: out.simTime, valid: out.valid };
    if (out.label) {
      out.label.seq = message.seq;
      message.label = out.label;
    }
    return message;
  };

  for (let tick = start; ; tick += intervalMs) {
    for (const meter of reportOrder) {
      const ts = tick + meter.phaseMs;
      if (ts >= end) {
        for (let next = held.pop(); next; next = held.pop()) yield send(next.item);
        return;
      }
      while (held.peekTime() <= ts) yield send(held.pop()!.item);
      timeline.advanceTo(ts);

      const line = fleet.lines[meter.lineIndex];
      const state = states[meter.index];
      const measured = measure(meter, state, ts, line.substationV, line.dropAtPeakV, timeline.busShiftV[line.index], noise, intervalHours, cvr);
      const reported = applyMeterFaults(measured, state, ts, timeline.meterFaults[meter.index]);
      state.last = reported;
      const iso = new Date(ts).toISOString();
      const reading: ReadingPayload = {
        deviceId: meter.deviceId,
        lineId: line.lineId,
        ts: iso,
        voltage: reported.voltage,
        current: reported.current,
        powerFactor: reported.powerFactor,
        kw: reported.kw,
        kwh: round(state.kwh, 3),
      };
      const normal: Outgoing = { topic: line.topic, payload: encodeReading(reading), simTime: ts, valid: true };

      const u = chaos.next(); // one draw decides each message's fate; an event draws its details after it
      const rule = ts <= untouchedUntil[line.index] ? undefined : pickRule(rules, u, meter, ts);
      if (rule === undefined) {
        yield send(normal);
        continue;
      }
      const labelBase = { lineId: line.lineId, deviceId: meter.deviceId, topic: line.topic, seq: -1, eventTime: iso };
      switch (rule.kind) {
        case 'malformed': {
          const variety = chaos.pick(rule.varieties);
          const otherLine = fleet.lines.length > 1 ? fleet.lines[(line.index + 1) % fleet.lines.length].lineId : `${line.lineId}-other`;
          yield send({ ...normal, payload: malformedPayload(reading, variety, otherLine), valid: false, label: { kind: 'malformed', ...labelBase, reason: variety } });
          break;
        }
        case 'duplicate': {
          const original = send(normal);
          const delayMs = Math.round(chaos.uniform(rule.minDelayMs, rule.maxDelayMs));
          held.push(ts + delayMs, { ...normal, simTime: ts + delayMs, label: { kind: 'duplicate', ...labelBase, originalSeq: original.seq, delayMs } });
          yield original;
          break;
        }
        case 'out-of-order':
        case 'late': {
          // Only a delay past the line's next report makes the message arrive after a later one.
          const gap = gapToNextOnLine[meter.index];
          const minDelayMs = Math.max(rule.minDelayMs, gap + 1);
          if (minDelayMs > rule.maxDelayMs || ts + gap >= end) {
            yield send(normal); // nothing on this line would overtake it
            break;
          }
          const delayMs = Math.min(rule.maxDelayMs, Math.round(chaos.uniform(minDelayMs, rule.maxDelayMs)));
          held.push(ts + delayMs, { ...normal, simTime: ts + delayMs, label: { kind: rule.kind, ...labelBase, delayMs } });
          untouchedUntil[line.index] = ts + gap;
          break;
        }
      }
    }
  }
}

/**
 * JSON.stringify of the reading, written out by hand because this runs for every message: the
 * ids are plain ASCII (checked when the fleet is built) and JSON prints finite numbers as String does.
 */
function encodeReading(r: ReadingPayload): Buffer {
  return Buffer.from(
    `{"deviceId":"${r.deviceId}","lineId":"${r.lineId}","ts":"${r.ts}","voltage":${r.voltage},"current":${r.current},"powerFactor":${r.powerFactor},"kw":${r.kw},"kwh":${r.kwh}}`,
  );
}

function measure(
  meter: MeterModel,
  state: MeterState,
  ts: number,
  substationV: number,
  dropAtPeakV: number,
  busShiftV: number,
  noise: Random,
  intervalHours: number,
  cvr?: CvrPhysics,
): Measurement {
  // With a CVR programme the load follows local hours and the weather (and so does the drop), and a reduced day lowers the head.
  const load = cvr ? loadFactor(cvr.loadCurveTime(ts)) * cvr.weatherAt(meter.lineIndex, ts) : loadFactor(ts);
  const normalVoltage = meterVoltage(substationV, dropAtPeakV, load, meter.position, meter.offsetV, busShiftV);
  const shift = cvr ? cvr.setpointShiftV(meter.lineIndex, ts) : 0;
  const voltage = Math.max(0, normalVoltage - shift + noise.boundedGaussian(VOLTAGE_NOISE_SIGMA, NOISE_LIMIT_SIGMAS));
  const kwNormal = Math.max(0, meter.baseKw * load * (1 + noise.boundedGaussian(LOAD_NOISE_SIGMA, NOISE_LIMIT_SIGMAS)));
  const kw = cvr ? cvr.power(meter.lineIndex, ts, normalVoltage, kwNormal, intervalHours) : kwNormal;
  // The register integrates the power over the interval that ends with this reading.
  state.kwh += kw * intervalHours;
  return {
    voltage,
    current: (kw * 1000) / (Math.max(voltage, 1) * meter.powerFactor),
    powerFactor: meter.powerFactor,
    kw,
  };
}

/** What the meter reports: its measurement, bent by a drifting sensor or frozen by a stuck one. */
function applyMeterFaults(measured: Measurement, state: MeterState, ts: number, faults: ScheduledFaultList): Measurement {
  let voltage = measured.voltage;
  let stuck = false;
  if (faults) {
    for (const fault of faults) {
      if (fault.kind === 'drift') voltage += (fault.voltsPerHour * (ts - fault.start)) / HOUR_MS;
      else if (fault.kind === 'stuck') stuck = true;
    }
  }
  const reported: Measurement = {
    voltage: round(Math.max(0, voltage), 1),
    current: round(measured.current, 2),
    powerFactor: measured.powerFactor,
    kw: round(measured.kw, 3),
  };
  if (!stuck) {
    state.frozen = undefined;
    return reported;
  }
  state.frozen ??= state.last ?? reported;
  return state.frozen;
}

type ScheduledFaultList = FaultTimeline['meterFaults'][number];

function pickRule(rules: MessageFaultRule[], u: number, meter: MeterModel, ts: number): MessageFaultRule | undefined {
  let cumulative = 0;
  for (const rule of rules) {
    if (rule.lineIndex !== undefined && rule.lineIndex !== meter.lineIndex) continue;
    if (rule.meterIndex !== undefined && rule.meterIndex !== meter.index) continue;
    if (ts < rule.start || ts >= rule.end) continue;
    cumulative += rule.probability;
    if (u < cumulative) return rule;
  }
  return undefined;
}

/** For each meter, the time from its report to the next report on the same line. */
function nextReportGaps(fleet: Fleet, intervalMs: number): Float64Array {
  const gaps = new Float64Array(fleet.meters.length);
  for (const line of fleet.lines) {
    const byPhase = line.meters.slice().sort((a, b) => a.phaseMs - b.phaseMs || a.index - b.index);
    // The next strictly later report: a meter with the same phase reports at the same instant.
    let nextLaterPhase = intervalMs + byPhase[0].phaseMs; // wraps to the first report of the next interval
    for (let i = byPhase.length - 1; i >= 0; i--) {
      const next = byPhase[i + 1];
      if (next && next.phaseMs > byPhase[i].phaseMs) nextLaterPhase = next.phaseMs;
      gaps[byPhase[i].index] = nextLaterPhase - byPhase[i].phaseMs;
    }
  }
  return gaps;
}
