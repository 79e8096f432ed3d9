import type { AggregateEnvelope, AlertEnvelope } from '@meterstream/contracts';
import { baseOptions, MINUTE, reading, T0 } from '../testing/fixtures';
import { StreamTopology } from '../topology';
import { aggregateEnvelope } from '../windows/line-window';
import { WindowStats } from '../windows/window-stats';
import { VoltageLimitRule, type VoltageLimitOptions } from './voltage-limit.rule';

const limits: VoltageLimitOptions = { voltageLow: 114, voltageHigh: 126, rangeBLow: 110, rangeBHigh: 127, clearAfterWindows: 2 };

/** A per-line aggregate for window `index` whose voltage spans [min, max]. */
function window(index: number, min: number, max = Math.max(min, 120), lineId = 'L07'): AggregateEnvelope {
  const stats = new WindowStats();
  stats.add(min, undefined, undefined, T0 + index * MINUTE + 100);
  stats.add(max, undefined, undefined, T0 + index * MINUTE + 200);
  return aggregateEnvelope(lineId, undefined, T0 + index * MINUTE, MINUTE, stats, 2);
}

function evaluate(rule: VoltageLimitRule, aggregates: AggregateEnvelope[]): AlertEnvelope[] {
  const alerts: AlertEnvelope[] = [];
  for (const aggregate of aggregates) rule.onAggregate(aggregate, (a) => alerts.push(a));
  return alerts;
}

describe('VoltageLimitRule', () => {
  it('raises one voltage-low for a dip and clears it once after clearAfterWindows in-range windows', () => {
    const rule = new VoltageLimitRule(limits);
    const alerts = evaluate(rule, [window(0, 119), window(1, 112.44), window(2, 113), window(3, 115), window(4, 116), window(5, 117), window(6, 118)]);
    expect(alerts).toHaveLength(2);
    const [raised, cleared] = alerts;
    const alertId = `alert:L07:voltage-low:${T0 + MINUTE}`;
    expect(raised).toEqual({
      v: 1,
      type: 'alert',
      id: `${alertId}:raised`,
      lineId: 'L07',
      deviceId: null,
      eventTime: T0 + MINUTE,
      ingestTime: T0 + MINUTE + 200,
      body: {
        alertId,
        kind: 'voltage-low',
        state: 'raised',
        severity: 'warning',
        lineId: 'L07',
        message: 'Line L07 voltage 112.4 V below ANSI Range A minimum 114 V',
        evidence: { value: 112.44, threshold: 114, criticalThreshold: 110, windowStart: T0 + MINUTE, windowEnd: T0 + 2 * MINUTE },
        raisedAt: T0 + MINUTE,
      },
    });
    // window 2 still breached (resets the streak); windows 3 and 4 are the two in range
    expect(cleared.id).toBe(`${alertId}:cleared`);
    expect(cleared.eventTime).toBe(T0 + 4 * MINUTE);
    expect(cleared.body).toMatchObject({ alertId, state: 'cleared', severity: 'warning', raisedAt: T0 + MINUTE, evidence: { value: 116, threshold: 114 } });
    expect(cleared.body.message).toBe('Line L07 voltage back at or above ANSI Range A minimum 114 V for 2 consecutive windows (lowest 116 V in the last)');
    expect(rule.openAlerts()).toEqual([]);
  });

  it('needs consecutive in-range windows: a breach in between restarts the count', () => {
    const rule = new VoltageLimitRule(limits);
    const alerts = evaluate(rule, [window(0, 113), window(1, 115), window(2, 113.5), window(3, 115), window(4, 115)]);
    expect(alerts.map((a) => [a.body.state, a.eventTime - T0])).toEqual([
      ['raised', 0],
      ['cleared', 4 * MINUTE],
    ]);
  });

  it('with a deadband, counts a window as back in range only when it is clearMarginV inside the limit', () => {
    const rule = new VoltageLimitRule({ ...limits, clearMarginV: 1 });
    const streaks: number[] = [];
    const alerts: AlertEnvelope[] = [];
    // raise; recovered (115.5 >= 115); inside the limit but within the deadband; recovered twice
    for (const [i, min] of [113, 115.5, 114.5, 115, 116].entries()) {
      rule.onAggregate(window(i, min), (a) => alerts.push(a));
      streaks.push(...rule.openAlerts().map((a) => a.inRangeStreak));
    }
    expect(streaks).toEqual([0, 1, 0, 1]);
    expect(alerts.map((a) => [a.body.state, a.eventTime - T0])).toEqual([
      ['raised', 0],
      ['cleared', 4 * MINUTE],
    ]);
    expect(alerts[1].body.message).toBe('Line L07 voltage back at or above ANSI Range A minimum 114 V for 2 consecutive windows (lowest 116 V in the last)');
  });

  it('raises nothing for a noisy line that stays within Range A (limits inclusive)', () => {
    const rule = new VoltageLimitRule(limits);
    let seed = 7;
    const noise = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31) * 12 + 114; // [114, 126)
    const aggregates = Array.from({ length: 500 }, (_, i) => window(i, Math.min(noise(), noise()), Math.max(noise(), noise())));
    aggregates.push(window(500, 114, 126));
    expect(evaluate(rule, aggregates)).toEqual([]);
  });

  it('is critical beyond Range B and a warning between Range A and B, for both directions', () => {
    const rule = new VoltageLimitRule(limits);
    const critical = evaluate(rule, [window(0, 109.5, 120, 'L01'), window(0, 118, 127.5, 'L02')]);
    expect(critical.map((a) => [a.lineId, a.body.kind, a.body.severity, a.body.message])).toEqual([
      ['L01', 'voltage-low', 'critical', 'Line L01 voltage 109.5 V below ANSI Range B minimum 110 V'],
      ['L02', 'voltage-high', 'critical', 'Line L02 voltage 127.5 V above ANSI Range B maximum 127 V'],
    ]);
    const warning = evaluate(rule, [window(0, 118, 126.4, 'L03')]);
    expect(warning.map((a) => [a.body.kind, a.body.severity, a.body.message, a.body.evidence.threshold])).toEqual([
      ['voltage-high', 'warning', 'Line L03 voltage 126.4 V above ANSI Range A maximum 126 V', 126],
    ]);
  });

  it('escalates an open warning to critical as a new event of the same alert, once, and clears it as critical', () => {
    const rule = new VoltageLimitRule(limits);
    // warning (113), critical (109), critical again (108.5: no second escalation), back above
    // Range B but below A (112: stays critical, no de-escalation), then two windows in range.
    const alerts = evaluate(rule, [window(0, 113), window(1, 109), window(2, 108.5), window(3, 112), window(4, 115), window(5, 115)]);
    const alertId = `alert:L07:voltage-low:${T0}`;
    expect(alerts.map((a) => [a.id, a.body.alertId, a.body.state, a.body.severity, a.body.change, a.body.previousSeverity])).toEqual([
      [`${alertId}:raised`, alertId, 'raised', 'warning', undefined, undefined],
      [`${alertId}:escalated:${T0 + MINUTE}`, alertId, 'raised', 'critical', 'escalated', 'warning'],
      [`${alertId}:cleared`, alertId, 'cleared', 'critical', undefined, undefined],
    ]);
    expect(alerts[1]).toMatchObject({
      eventTime: T0 + MINUTE,
      body: { raisedAt: T0, message: 'Line L07 voltage 109 V below ANSI Range B minimum 110 V', evidence: { value: 109, criticalThreshold: 110 } },
    });
    // The escalated severity is part of the state a checkpoint keeps.
    const resumed = new VoltageLimitRule(limits);
    const first = new VoltageLimitRule(limits);
    evaluate(first, [window(0, 113), window(1, 109)]);
    resumed.restore(JSON.parse(JSON.stringify(first.snapshot())));
    expect(resumed.openAlerts().map((a) => a.severity)).toEqual(['critical']);
    expect(evaluate(resumed, [window(2, 108.5)])).toEqual([]);
  });

  it('tracks low and high independently, per line', () => {
    const rule = new VoltageLimitRule(limits);
    const alerts = evaluate(rule, [window(0, 113, 126.5), window(0, 113, 120, 'L08'), window(1, 115, 126.2), window(2, 115, 120), window(3, 115, 120)]);
    expect(alerts.map((a) => `${a.lineId} ${a.body.kind} ${a.body.state} @${(a.eventTime - T0) / MINUTE}`)).toEqual([
      'L07 voltage-low raised @0',
      'L07 voltage-high raised @0',
      'L08 voltage-low raised @0',
      'L07 voltage-low cleared @2',
      'L07 voltage-high cleared @3',
    ]);
  });

  it('ignores per-meter aggregates', () => {
    const rule = new VoltageLimitRule(limits);
    const stats = new WindowStats();
    stats.add(100, undefined, undefined, 0);
    expect(evaluate(rule, [aggregateEnvelope('L07', 'm-1', T0, MINUTE, stats, 1)])).toEqual([]);
  });

  it('continues from a JSON snapshot exactly as without interruption', () => {
    const aggregates = [window(0, 113), window(1, 115), window(2, 115), window(3, 127.5, 127.5)];
    const whole = evaluate(new VoltageLimitRule(limits), aggregates);
    const first = new VoltageLimitRule(limits);
    const before = evaluate(first, aggregates.slice(0, 2));
    const resumed = new VoltageLimitRule(limits);
    resumed.restore(JSON.parse(JSON.stringify(first.snapshot())));
    expect([...before, ...evaluate(resumed, aggregates.slice(2))]).toEqual(whole);
    expect(whole.map((a) => a.body.state)).toEqual(['raised', 'cleared', 'raised']);
  });
});

describe('voltage limits inside the topology', () => {
  it('raises and clears from fired line windows, carrying the window’s times', () => {
    const topology = new StreamTopology({ ...baseOptions, clearAfterWindows: 1 });
    const volts = [120, 112.4, 118, 119];
    volts.forEach((v, i) => topology.process('p0', reading({ line: 'L07', t: T0 + i * MINUTE + 1_000, v }), i));
    topology.process('p0', reading({ line: 'L07', t: T0 + 10 * MINUTE, v: 120 }), 10);
    const { aggregates, alerts } = topology.takeOutput();
    expect(aggregates).toHaveLength(4);
    expect(alerts.map((a) => [a.id, a.body.message, a.ingestTime])).toEqual([
      [`alert:L07:voltage-low:${T0 + MINUTE}:raised`, 'Line L07 voltage 112.4 V below ANSI Range A minimum 114 V', aggregates[1].ingestTime],
      [`alert:L07:voltage-low:${T0 + MINUTE}:cleared`, 'Line L07 voltage back at or above ANSI Range A minimum 114 V for 1 window (lowest 118 V in the last)', aggregates[2].ingestTime],
    ]);
  });

  it('accepts custom rules in place of the default', () => {
    const seen: string[] = [];
    const topology = new StreamTopology(baseOptions, undefined, [
      { name: 'spy', onAggregate: (a) => seen.push(a.id), snapshot: () => ({ seen: seen.length }), restore: () => undefined },
    ]);
    topology.process('p0', reading({ t: T0, v: 90 }), 0);
    topology.process('p0', reading({ t: T0 + 2 * MINUTE, v: 90 }), 1);
    expect(topology.takeOutput().alerts).toEqual([]); // the voltage rule is not installed
    expect(seen).toEqual([`agg:L01:${T0}:${MINUTE}`]);
    expect(topology.snapshot().rules).toEqual({ spy: { seen: 1 } });
  });
});
