import type { AlertBody } from '@meterstream/contracts';
import { ALERT_KIND_TARGETS, scoreAlerts, type TruthFault } from './score-alerts';

const T0 = Date.parse('2026-03-02T00:00:00Z');
const MINUTE = 60_000;

function alert(kind: string, lineId: string, deviceId: string | undefined, raisedAt: number): AlertBody {
  return {
    alertId: `${kind}:${lineId}:${deviceId ?? ''}:${raisedAt}`,
    kind,
    state: 'raised',
    severity: 'warning',
    lineId,
    deviceId,
    message: kind,
    evidence: { value: 0, threshold: 0, windowStart: raisedAt - MINUTE, windowEnd: raisedAt },
    raisedAt,
  };
}

describe('scoreAlerts', () => {
  const sag: TruthFault = { kind: 'sag', lineId: 'L01', start: T0 + 10 * MINUTE, end: T0 + 20 * MINUTE };
  const options = { from: T0, to: T0 + 86_400_000, graceMs: 5 * MINUTE, lines: 2 };

  it('knows every alert kind the rules raise, the meter clock included', () => {
    expect(ALERT_KIND_TARGETS['meter-clock']).toEqual([]);
  });

  it('counts a meter-clock alert that matches no fault as a false alarm against no voltage fault kind', () => {
    const score = scoreAlerts([alert('voltage-low', 'L01', undefined, T0 + 12 * MINUTE), alert('meter-clock', 'L02', 'm-7', T0 + 30 * MINUTE)], [sag], options);
    expect(score.falseAlarms).toBe(1);
    expect(score.falseAlarmKinds).toEqual({ 'meter-clock': 1 });
    // The sag's precision is untouched: a fast clock is not what voltage-low or any voltage rule is for.
    expect(score.kinds.find((k) => k.kind === 'sag')).toMatchObject({ detected: 1, truePositives: 1, falseAlarms: 0, precision: 1, recall: 1 });
    expect(score.kinds.every((k) => k.falseAlarms === 0)).toBe(true);
  });

  it('charges an alert kind it does not know to every fault kind (why each kind needs an entry)', () => {
    const score = scoreAlerts([alert('something-new', 'L02', 'm-7', T0 + 30 * MINUTE)], [sag], options);
    expect(score.kinds.every((k) => k.falseAlarms === 1)).toBe(true);
  });
});
