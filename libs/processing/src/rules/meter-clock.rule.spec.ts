import type { AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { resolveProcessorOptions } from '../options';
import { baseOptions, MINUTE, reading, T0 } from '../testing/fixtures';
import { StreamTopology } from '../topology';
import { createAlertRules } from './create-alert-rules';
import { MeterClockRule, type MeterClockRuleState } from './meter-clock.rule';

/**
 * Line L01: 5 meters reading together every 10 s for 7 minutes, ingested 500 ms later (so where
 * the line is when m3 reports is exactly its reading's true time). Meter m3's readings 18..23 are
 * stamped `aheadMinutes[i - 18]` minutes fast (delivered on time); from 24 on its clock is fixed.
 */
function run(aheadMinutes: number[]) {
  const topology = new StreamTopology(baseOptions, undefined, createAlertRules(resolveProcessorOptions(baseOptions), 'meterstream'));
  const alerts: AlertEnvelope[] = [];
  const rejected: ReadingEnvelope[] = [];
  const late: ReadingEnvelope[] = [];
  for (let i = 0; i < 42; i++) {
    for (let k = 0; k < 5; k++) {
      const t = T0 + i * 10_000;
      const fast = k === 3 && i >= 18 && i < 24 ? aheadMinutes[i - 18] * MINUTE : 0;
      topology.process('p0', reading({ device: `m${k}`, t: t + fast, v: 120 + k / 10 + (i % 3) / 10, ingest: t + 500 }), 0);
      const out = topology.takeOutput();
      alerts.push(...out.alerts.filter((a) => a.body.kind === 'meter-clock'));
      rejected.push(...out.rejected.map((r) => r.reading));
      late.push(...out.late);
    }
  }
  return { alerts, rejected, late };
}
const lineTime = (i: number) => T0 + i * 10_000; // where m3's reading i belongs on the line's clock

describe('MeterClockRule (meter-clock), fed by the topology', () => {
  it.each([
    ['5 minutes fast for 6 readings', [5, 5, 5, 5, 5, 5], 0, ''],
    ['50, 5, 50, 50, 5, 5 minutes fast (the rejected readings count too)', [50, 5, 50, 50, 5, 5], 3, '; this reading was too far ahead and was rejected'],
  ])('raises one warning for a meter whose clock is %s, and clears it after 5 readings on time once fixed', (_name, aheadMinutes, rejectedCount, rejectedNote) => {
    const { alerts, rejected, late } = run(aheadMinutes);
    expect(rejected).toHaveLength(rejectedCount);
    expect(late).toEqual([]);
    const alertId = `alert:L01:m3:meter-clock:${lineTime(20)}`;
    expect(alerts.map((a) => [a.id, a.eventTime])).toEqual([
      [`${alertId}:raised`, lineTime(20)], // the third fast reading completed the evidence; dated on the line's clock
      [`${alertId}:cleared`, lineTime(28)], // the fifth reading on time after the fix
    ]);
    const [raised, cleared] = alerts;
    expect(raised.body).toMatchObject({
      kind: 'meter-clock',
      severity: 'warning',
      lineId: 'L01',
      deviceId: 'm3',
      raisedAt: lineTime(20),
      evidence: { value: aheadMinutes[2] * MINUTE, threshold: 2 * MINUTE + 5_000, windowStart: lineTime(18), windowEnd: lineTime(20), aheadReadings: 3, meterEventTime: lineTime(20) + aheadMinutes[2] * MINUTE },
    });
    expect(raised.body.message).toBe(
      `Meter m3 on line L01: clock ahead of its line by ${aheadMinutes[2]} min in 3 of its last 3 readings (tolerance 2 min)${rejectedNote}; check the meter's time source`,
    );
    expect(cleared.body).toMatchObject({ state: 'cleared', raisedAt: lineTime(20), evidence: { value: 0, windowStart: lineTime(24), windowEnd: lineTime(28) } });
  });

  it.each([
    ['two fast readings of five', [5, 5, 0, 0, 0, 0]],
    ['fast readings spread out: never 3 of the last 5', [5, 0, 0, 5, 0, 0]],
    ['1.9 minutes fast (within the tolerance)', [1.9, 1.9, 1.9, 1.9, 1.9, 1.9]],
  ])('stays quiet for %s', (_name, aheadMinutes) => {
    expect(run(aheadMinutes).alerts).toEqual([]);
  });
});

describe('MeterClockRule on its own', () => {
  const at = (i: number) => reading({ device: 'm3', t: T0 + i * 10_000, v: 120 });
  const judge = (rule: MeterClockRule, i: number, aheadMs: number, spreadMs = 0) => {
    const alerts: AlertEnvelope[] = [];
    rule.onMeterClock(at(i), { aheadMs, spreadMs, rejected: false }, (a) => alerts.push(a));
    return alerts.map((a) => a.body.state);
  };

  it('judges ahead beyond the tolerance plus the line’s own spread (its out-of-orderness)', () => {
    const bulkLine = new MeterClockRule();
    for (let i = 0; i < 5; i++) expect(judge(bulkLine, i, 14 * MINUTE, 15 * MINUTE)).toEqual([]); // a bulk line: 15 min of spread
    const liveLine = new MeterClockRule();
    expect([0, 1, 2].map((i) => judge(liveLine, i, 2 * MINUTE + 6_000, 5_000))).toEqual([[], [], ['raised']]);
  });

  it('continues a streak exactly across a JSON snapshot of its state', () => {
    const original = new MeterClockRule();
    judge(original, 0, 5 * MINUTE);
    judge(original, 1, 5 * MINUTE);
    const restored = new MeterClockRule();
    restored.restore(JSON.parse(JSON.stringify(original.snapshot())) as MeterClockRuleState);
    expect(restored.snapshot()).toEqual(original.snapshot());
    expect(judge(restored, 2, 5 * MINUTE)).toEqual(['raised']);
    expect(judge(original, 2, 5 * MINUTE)).toEqual(['raised']);
    expect(restored.openAlerts()).toEqual(original.openAlerts());
  });

  it('forgets meters whose last readings were all on time, so its state stays small', () => {
    const rule = new MeterClockRule();
    judge(rule, 0, 5 * MINUTE);
    expect(rule.snapshot().meters).toHaveLength(1);
    for (let i = 1; i <= 5; i++) judge(rule, i, 0);
    expect(rule.snapshot()).toEqual({ open: [], meters: [] });
  });

  it('refuses a window it cannot count', () => {
    expect(() => new MeterClockRule({ aheadReadings: 6, ofReadings: 5 })).toThrow(/aheadReadings <= ofReadings/);
  });
});
