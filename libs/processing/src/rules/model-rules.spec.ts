import type { AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { isRaise, parseReading } from '@meterstream/contracts';
import { generateMessages, type FaultSpec } from '@meterstream/simulator';
import { resolveProcessorOptions } from '../options';
import { StreamTopology } from '../topology';
import type { ProcessorSnapshot } from '../snapshot';
import { createAlertRules } from './create-alert-rules';
import { MeterHealthRule } from './meter-health.rule';
import { VoltageModelRule, type VoltageModelRuleState } from './voltage-model.rule';
import type { AlertRule } from './rule';
import type { VoltageModelVersion } from '../model/model-version';
import { FixedVarianceRule } from './fixed-variance.rule';
import { reading, T0, MINUTE } from '../testing/fixtures';

const DAY = 86_400_000;
const START = Date.parse('2026-11-02T00:00:00Z');
const options = { windowSizeMs: MINUTE, outOfOrdernessMs: 10_000, allowedLatenessMs: 0, idleTimeoutMs: Infinity };

/** A simulated fleet's readings (once a minute), through the ingest contract. */
function simulate(days: number, faults: FaultSpec[], seed = 11): Array<{ envelope: ReadingEnvelope; simTime: number }> {
  const messages = generateMessages({ seed, lines: 2, metersPerLine: 12, intervalMs: 60_000, start: START, durationMs: days * DAY, faults });
  return Array.from(messages, (m) => {
    const parsed = parseReading(m.topic, m.payload, { ingestTime: m.simTime, maxFutureSkewMs: 1e12 });
    if (!parsed.ok) throw new Error('the simulator produced an invalid reading');
    return { envelope: parsed.envelope, simTime: m.simTime };
  });
}

function meterstreamTopology(snapshot?: ProcessorSnapshot): StreamTopology {
  return new StreamTopology(options, snapshot, createAlertRules(resolveProcessorOptions(options), 'meterstream'));
}

function feed(topology: StreamTopology, readings: Array<{ envelope: ReadingEnvelope; simTime: number }>): AlertEnvelope[] {
  const alerts: AlertEnvelope[] = [];
  for (const { envelope, simTime } of readings) {
    topology.process('p0', envelope, simTime);
    alerts.push(...topology.takeOutput().alerts);
  }
  return alerts;
}

/** Runs a simulated fleet through a topology with meterstream's rules. */
function run(days: number, faults: FaultSpec[], seed = 11): { alerts: AlertEnvelope[]; topology: StreamTopology } {
  const topology = meterstreamTopology();
  const alerts = feed(topology, simulate(days, faults, seed));
  // The end of the input: the last windows fire, and what they raise or clear counts too.
  topology.advanceProcessingTime(Infinity);
  alerts.push(...topology.takeOutput().alerts);
  return { alerts, topology };
}

const summary = (alerts: AlertEnvelope[]) => alerts.map((a) => `${a.body.state} ${a.body.kind} ${a.lineId}${a.deviceId ? ` ${a.deviceId}` : ''}`);

describe('meterstream rules on a simulated feeder', () => {
  it('raise nothing on noisy but healthy lines for two days, learning as they go', () => {
    const { alerts, topology } = run(2, []);
    expect(summary(alerts)).toEqual([]);
    // The model did learn online (version 0: nothing published): both lines, every meter.
    expect(topology.modelVersion).toBe(0);
    const state = topology.snapshot().rules['voltage-model'] as VoltageModelRuleState;
    expect(state.lines.map((l) => [l.lineId, l.model.meters.length]).sort()).toEqual([
      ['L01', 12],
      ['L02', 12],
    ]);
  });

  it('raise exactly one alert for a regulator stuck five taps low at night, and clear it once after recovery', () => {
    const start = START + DAY + 2 * 3_600_000;
    const { alerts } = run(2, [{ kind: 'failed-regulator', lineId: 'L02', start, end: start + 2 * 3_600_000, params: { taps: 5 } }]);
    expect(summary(alerts)).toEqual(['raised line-voltage-deviation L02', 'cleared line-voltage-deviation L02']);
    const [raised, cleared] = alerts;
    expect(raised.body.raisedAt).toBeGreaterThanOrEqual(start - MINUTE);
    expect(raised.body.raisedAt).toBeLessThan(start + 5 * MINUTE);
    expect(raised.body.evidence).toMatchObject({ modelVersion: 0 });
    expect(raised.body.evidence.value - (raised.body.evidence.expected as number)).toBeLessThan(-3); // 3.75 V below
    expect(cleared.eventTime).toBeGreaterThanOrEqual(start + 2 * 3_600_000);
    expect(cleared.eventTime).toBeLessThan(start + 2 * 3_600_000 + 10 * MINUTE);
  });

  it('raise exactly one alert for a stuck meter and clear it once when it measures again', () => {
    const start = START + DAY + 3 * 3_600_000;
    const { alerts } = run(2, [{ kind: 'stuck', lineId: 'L01', deviceId: 'm-000007', start, end: start + 40 * MINUTE }]);
    expect(summary(alerts)).toEqual(['raised meter-stuck L01 m-000007', 'cleared meter-stuck L01 m-000007']);
  });
});

describe('the voltage model on a drifting meter and a failed regulator', () => {
  const start = START + 10 * 3_600_000;
  const faults: FaultSpec[] = [
    { kind: 'drift', lineId: 'L01', deviceId: 'm-000004', start, end: start + 3 * 3_600_000 }, // +0.5 V an hour
    { kind: 'failed-regulator', lineId: 'L02', start: start + 100 * MINUTE, end: start + 200 * MINUTE, params: { taps: 5 } },
  ];

  it('raise meter-drift, line-voltage-deviation and voltage-anomaly once each, and clear each once after recovery', () => {
    const { alerts } = run(1, faults);
    expect(summary(alerts)).toEqual([
      'raised meter-drift L01 m-000004',
      'raised line-voltage-deviation L02',
      'raised voltage-anomaly L01 m-000004',
      'cleared voltage-anomaly L01 m-000004',
      'cleared line-voltage-deviation L02',
      'cleared meter-drift L01 m-000004',
    ]);
    const [driftRaised, , anomalyRaised, anomalyCleared, , driftCleared] = alerts;
    expect(driftRaised.body.alertId).toBe(`alert:L01:m-000004:meter-drift:${driftRaised.eventTime}`);
    expect(driftCleared.body.alertId).toBe(driftRaised.body.alertId);
    expect(driftCleared.body.message).toContain('back within 0.15 V of the model');
    expect(anomalyCleared.body.alertId).toBe(anomalyRaised.body.alertId);
    // The evidence: the drift estimate against its threshold, over the meter's last 6 scored readings, a minute apart.
    expect(driftRaised.body.evidence).toEqual({
      value: expect.any(Number),
      expected: 0,
      threshold: 0.3,
      score: expect.any(Number),
      modelVersion: 0,
      windowStart: driftRaised.eventTime - 5 * MINUTE,
      windowEnd: driftRaised.eventTime,
      voltage: expect.any(Number),
    });
    expect(driftRaised.body.evidence.value).toBeGreaterThan(0.3);
    expect(driftRaised.body.message).toMatch(/^Meter m-000004 on line L01 drifting high: its readings sit 0\.\d V above the line's pattern/);
    // The reading against the model: a score above 4 in 4 of the last 6.
    expect(Object.keys(anomalyRaised.body.evidence)).toEqual(['value', 'expected', 'threshold', 'score', 'modelVersion', 'windowStart', 'windowEnd']);
    expect(anomalyRaised.body.evidence.score).toBeGreaterThan(4);
    expect(anomalyRaised.body.message).toMatch(/^Meter m-000004 on line L01 reads \d+\.\d V above the model's expectation .* in 4 of its last 6 readings$/);
    expect(anomalyCleared.body.message).toMatch(/back in line with the model for 8 readings/);
  });

  it('continue from a JSON snapshot exactly as an uninterrupted run, while alerts are being raised, open and being cleared', () => {
    const readings = simulate(1, faults);
    const whole = feed(meterstreamTopology(), readings);
    // meter-drift counting toward its raise; line-voltage-deviation counting toward its raise; all
    // three open, voltage-anomaly counting calm readings; line-voltage-deviation counting calm
    // windows; meter-drift counting calm readings
    for (const minutes of [61, 102, 185, 202, 222]) {
      const cut = readings.findIndex((r) => r.envelope.eventTime >= start + minutes * MINUTE);
      const before = meterstreamTopology();
      const head = feed(before, readings.slice(0, cut));
      const snapshot = JSON.parse(JSON.stringify(before.snapshot())) as ProcessorSnapshot;
      const after = meterstreamTopology(snapshot);
      expect(after.snapshot()).toEqual(snapshot); // restore loses nothing
      expect([...head, ...feed(after, readings.slice(cut))]).toEqual(whole);
    }
  });

  it('keep the checkpoint layout of the voltage-model rule', () => {
    const readings = simulate(1, faults);
    const topology = meterstreamTopology();
    feed(topology, readings.slice(0, readings.findIndex((r) => r.envelope.eventTime >= start + 185 * MINUTE)));
    const state = topology.snapshot().rules['voltage-model'] as VoltageModelRuleState;
    expect(Object.keys(state)).toEqual(['modelVersion', 'open', 'lines']);
    expect(state.open.map((a) => `${a.kind} ${a.lineId}`).sort()).toEqual(['line-voltage-deviation L02', 'meter-drift L01', 'voltage-anomaly L01']);
    const line = state.lines.find((l) => l.lineId === 'L01')!;
    expect(Object.keys(line)).toEqual(['lineId', 'model', 'shock', 'deviating', 'calmWindows', 'meters']);
    const [, meter] = line.meters.find(([id]) => id === 'm-000004')!;
    expect(Object.keys(meter)).toEqual(['flags', 'calm', 'drift', 'driftHigh', 'driftCalm', 'times', 'head', 'anomalyOpen', 'driftOpen', 'minLoad', 'maxLoad']);
    expect(meter).toMatchObject({ anomalyOpen: true, driftOpen: true, driftHigh: 0 });
    expect(meter.times).toHaveLength(6);
  });
});

describe('MeterHealthRule', () => {
  it('raises meter-stale when a meter falls silent while its line reports, and clears it when it is back', () => {
    const rule = new MeterHealthRule({ staleAfterMs: 5 * MINUTE });
    const topology = new StreamTopology(options, undefined, [rule]);
    const alerts: AlertEnvelope[] = [];
    for (let i = 0; i < 20; i++) {
      topology.process('p0', reading({ device: 'm-1', t: T0 + i * MINUTE, v: 120 + (i % 3) / 10, kw: i }), i);
      // A third meter keeps reporting too: the line's clock is the lower median of its meters', so
      // with m-2 silent two meters must carry it.
      topology.process('p0', reading({ device: 'm-3', t: T0 + i * MINUTE + 2, v: 121 + (i % 3) / 10, kw: i }), i);
      if (i < 3 || i > 12) topology.process('p0', reading({ device: 'm-2', t: T0 + i * MINUTE + 1, v: 119 + (i % 2) / 10, kw: i }), i);
      alerts.push(...topology.takeOutput().alerts);
    }
    expect(alerts.map((a) => [a.body.state, a.body.kind, a.deviceId])).toEqual([
      ['raised', 'meter-stale', 'm-2'],
      ['cleared', 'meter-stale', 'm-2'],
    ]);
    expect(alerts[0].body.evidence.windowStart).toBe(T0 + 2 * MINUTE + 1); // its last reading
  });
});

describe('FixedVarianceRule (the original baseline)', () => {
  it('alerts only when a reading misses the line mean by more than 20 V', () => {
    const topology = new StreamTopology(options, undefined, [new FixedVarianceRule()]);
    const volts = [120, 121, 119, 104, 95, 120];
    volts.forEach((v, i) => topology.process('p0', reading({ device: 'm-1', t: T0 + i * 1000, v }), i));
    const alerts = topology.takeOutput().alerts;
    expect(alerts.map((a) => [a.body.state, a.body.evidence.value])).toEqual([
      ['raised', 95],
      ['cleared', 120],
    ]);
  });
});

describe('a published model installed into a fresh processor', () => {
  it('needs no warm-up: a regulator failing 10 minutes in is caught, and the alert names the version', () => {
    // Train online for a day, publish what was learned as version 7 ...
    const { topology: trained } = run(1, []);
    const rule = (trained as unknown as { rules: AlertRule[] }).rules.find((r): r is VoltageModelRule => r instanceof VoltageModelRule)!;
    const lines = Object.fromEntries(['L01', 'L02'].map((id) => [id, rule.lineModel(id)!.parameters()]));
    const model: VoltageModelVersion = { version: 7, createdAt: '2026-11-03T00:00:00Z', trainedOn: { from: START, to: START + DAY }, lines };

    // ... and install it into a processor that has seen nothing.
    const fresh = new StreamTopology(options, undefined, createAlertRules(resolveProcessorOptions(options), 'meterstream'));
    fresh.installModel(model);
    expect(fresh.modelVersion).toBe(7);
    const start = START + DAY;
    const fault = start + 10 * MINUTE;
    const alerts: AlertEnvelope[] = [];
    const messages = generateMessages({
      seed: 11,
      lines: 2,
      metersPerLine: 12,
      intervalMs: 60_000,
      start,
      durationMs: 40 * MINUTE,
      faults: [{ kind: 'failed-regulator', lineId: 'L01', start: fault, end: fault + 20 * MINUTE, params: { taps: 5 } }],
    });
    for (const m of messages) {
      const parsed = parseReading(m.topic, m.payload, { ingestTime: m.simTime, maxFutureSkewMs: 1e12 });
      if (parsed.ok) fresh.process('p0', parsed.envelope, m.simTime);
      alerts.push(...fresh.takeOutput().alerts);
    }
    const raised = alerts.filter((a) => isRaise(a.body));
    expect(raised.map((a) => [a.body.kind, a.lineId])).toEqual([['line-voltage-deviation', 'L01']]);
    expect(raised[0].body.evidence.modelVersion).toBe(7);
    expect(raised[0].body.raisedAt).toBeLessThan(fault + 5 * MINUTE);
  });
});
