import type { AlertEnvelope, AlertSeverity } from '@meterstream/contracts';
import { AlertBook } from './alert-book';
import { closedHysteresis, Hysteresis, type HysteresisState } from './hysteresis';
import { runDetector, type DetectorObservation, type ModelDetector } from './model-detection';

/** A detector on a plain number: breaching above 2, critical from 6, calm below 1. */
interface Observation extends DetectorObservation {
  value: number;
}

const detector: ModelDetector<Observation> = {
  kind: 'test-deviation',
  hysteresis: new Hysteresis({ raiseAfter: 2, clearAfter: 2 }),
  breaching: (o) => o.value > 2,
  calm: (o) => o.value < 1,
  severity: (o): AlertSeverity => (o.value >= 6 ? 'critical' : 'warning'),
  raisedMessage: (o) => `off by ${o.value}`,
  clearedMessage: (o) => `back (${o.value})`,
  evidence: (o) => ({ value: o.value, threshold: 2, windowStart: o.eventTime, windowEnd: o.eventTime + 60_000 }),
};

function run(values: number[]): AlertEnvelope[] {
  const book = new AlertBook();
  const state: HysteresisState = closedHysteresis();
  const alerts: AlertEnvelope[] = [];
  values.forEach((value, i) => {
    const t = 1_000_000 + i * 60_000;
    runDetector(detector, state, { subject: { lineId: 'L1' }, eventTime: t, ingestTime: t + 5, modelVersion: 0, value }, book, (a) => alerts.push(a));
  });
  return alerts;
}

describe('runDetector: escalation', () => {
  it('escalates an open warning to critical once, as an event of the same alert, and clears it as critical', () => {
    // Raised as a warning on the 2nd breach; 7 V escalates; 8 V and a fall back to 3 V change nothing; two calm windows clear.
    const alerts = run([3, 3, 7, 8, 3, 0.5, 0.5]);
    const alertId = 'alert:L1:test-deviation:1060000';
    expect(alerts.map((a) => [a.id, a.body.alertId, a.body.state, a.body.severity, a.body.change ?? null, a.body.previousSeverity ?? null])).toEqual([
      [`${alertId}:raised`, alertId, 'raised', 'warning', null, null],
      [`${alertId}:escalated:1120000`, alertId, 'raised', 'critical', 'escalated', 'warning'],
      [`${alertId}:cleared`, alertId, 'cleared', 'critical', null, null],
    ]);
    expect(alerts[1].body).toMatchObject({ message: 'off by 7', raisedAt: 1_060_000, evidence: { value: 7 } });
  });

  it('raises critical at once when the first breach is already critical, and never escalates it further', () => {
    expect(run([7, 7, 9, 0.5, 0.5]).map((a) => [a.body.state, a.body.severity, a.body.change ?? null])).toEqual([
      ['raised', 'critical', null],
      ['cleared', 'critical', null],
    ]);
  });
});
