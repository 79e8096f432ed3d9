/**
 * @meterstream/simulator — a deterministic fleet of smart meters on radial feeder lines.
 *
 * Each line has a substation bus (122.5–124.5 V) and meters spread along it; a meter's voltage is
 * V_sub − D·L(t)·x·(2 − x) + offset + noise, where L(t) is a residential daily load curve in UTC
 * (morning peak ~07:30, larger evening peak ~19:00, night low; weekends differ slightly) and D
 * puts the end of a healthy line at 116.5–117.5 V at peak, so healthy lines stay inside ANSI
 * Range A (114–126 V), noise included (σ 0.25 V, bounded at ±3σ).
 *
 * Readings go to `line/{lineId}/SmartMeterData` as v1 JSON. Faults are injected from an explicit
 * schedule or the `demo` profile, and every one is labelled: line faults (sag, swell,
 * failed-regulator), meter faults (drift, stuck) as intervals; message faults (malformed,
 * duplicate, out-of-order, late) per message, by its index in the published sequence.
 *
 * Determinism: the message sequence is a pure function of the options (seeded pure-rand streams,
 * no clock, no Math.random). The wall clock only paces `runSimulator`.
 *
 *   generateMessages(options)  every message in send order (a lazy generator; endless runs allowed)
 *   faultLabels(options)       the fault intervals of the run
 *   runSimulator(options)      publishes over MQTT with pacing, QoS 1 acks, labels JSONL
 */
export { DEFAULT_INTERVAL_MS, defaultLineIdFormat, type SimulatorOptions } from './options';
export { faultLabels, generateMessages, type SimMessage } from './generation/generate-messages';
export { fleetLayout, type LineLayout, type MeterLayout } from './fleet/fleet-layout';
export { runSimulator, type RunSimulatorOptions, type RunSimulatorResult, type SimulatorProgress } from './publishing/run-simulator';
export { loadFactor } from './physics/load-curve';
export { ANSI_RANGE_A, REGULATOR_TAP_V } from './physics/feeder';
export {
  MALFORMED_VARIETIES,
  type DriftSpec,
  type FailedRegulatorSpec,
  type FaultLabel,
  type FaultProfile,
  type FaultSpec,
  type IntervalFaultKind,
  type IntervalFaultSpec,
  type LineFaultKind,
  type MalformedVariety,
  type MessageFaultKind,
  type MessageFaultSpec,
  type MessageLabel,
  type MeterFaultKind,
  type SagSpec,
  type StuckSpec,
  type SwellSpec,
} from './faults/fault-spec';
export { generateRun } from './generation/generate-messages';
export { CvrPhysics } from './cvr/cvr-physics';
export { zipFactor, zipForFactor, zipPowerRatio, type ZipComposition } from './cvr/zip-load';
export type { CvrLineTruth, CvrSimulationSpec, CvrTruth } from './cvr/cvr-spec';
