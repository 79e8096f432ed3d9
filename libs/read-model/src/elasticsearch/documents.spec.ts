import { ENVELOPE_VERSION, type AlertBody, type AlertCommandBody, type AlertEnvelope, type AlertState } from '@meterstream/contracts';
import { aggregateEnvelope, deadLetterEnvelope, readingEnvelope } from '@meterstream/test-harness';
import {
  applyLineDelta,
  combineLineDeltas,
  lineDeltaFromCounters,
  documentId,
  foldAlertEvents,
  readingDocumentId,
  toAggregateDocument,
  toAlertDocument,
  toAlertRow,
  toDeadLetterDocument,
  toReadingDocument,
} from './documents';

const T0 = Date.parse('2026-11-29T05:00:00.000Z');
const MINUTE = 60_000;

function alert(state: AlertState, eventTime: number, overrides: Partial<AlertBody> = {}): AlertEnvelope {
  const body: AlertBody = {
    alertId: 'a-1',
    kind: 'undervoltage',
    state,
    severity: 'warning',
    lineId: 'L07',
    message: `below range (${state})`,
    evidence: { value: 112.9, threshold: 114, windowStart: T0, windowEnd: T0 + MINUTE },
    raisedAt: T0 + MINUTE,
    ...overrides,
  };
  return { v: ENVELOPE_VERSION, type: 'alert', id: `a-1:${state}`, lineId: body.lineId, deviceId: null, eventTime, ingestTime: eventTime, body };
}

describe('envelopes to documents', () => {
  it('stores a reading as its row, absent optional fields as null, keyed by (deviceId, event time)', () => {
    const e = readingEnvelope('L07', 'm-1', T0, { voltage: 119.6, kwh: 10234.5 });
    expect(toReadingDocument(e)).toEqual({
      id: 'm-1@' + T0,
      lineId: 'L07',
      deviceId: 'm-1',
      eventTime: T0,
      voltage: 119.6,
      current: null,
      powerFactor: null,
      kw: null,
      kwh: 10234.5,
      status: null,
    });
    expect(readingDocumentId(e)).toBe(`m-1@${T0}`);
  });

  it('stores an aggregate as its row: per-line windows have a null deviceId, missing quantities are null', () => {
    const e = aggregateEnvelope('L07', T0, { current: undefined, energyKwh: undefined });
    const doc = toAggregateDocument(e);
    expect(doc).toMatchObject({ id: e.id, lineId: 'L07', deviceId: null, windowStart: T0, windowEnd: T0 + MINUTE, current: null, energyKwh: null });
    expect(doc.kw).toEqual({ mean: 0.95, max: 1.4 });
    expect(doc.voltage).toEqual({ min: 117.5, max: 121.25, mean: 119.4, stddev: 0.8, p5: 118, p95: 120.75 });
    const meter = toAggregateDocument(aggregateEnvelope('L07', T0, { deviceId: 'm-9' }));
    expect(meter.deviceId).toBe('m-9');
  });

  it('stores a dead letter with its raw bytes and errors, deviceId null when unknown', () => {
    const raw = Buffer.from([0xff, 0x00]);
    const e = deadLetterEnvelope('line/L07/SmartMeterData', raw, T0);
    const doc = toDeadLetterDocument(e);
    expect(doc).toMatchObject({ id: e.id, lineId: 'L07', deviceId: null, topic: 'line/L07/SmartMeterData', receivedAt: T0 });
    expect(Buffer.from(doc.payload, 'base64')).toEqual(raw);
    expect(doc.errors[0].field).toBe('(payload)');
  });

  it('stores an alert with its state rank and the event time as updatedAt, no decisions yet; the row leaves the rank out', () => {
    const doc = toAlertDocument(alert('cleared', T0 + 5 * MINUTE, { evidence: { value: 1, threshold: 2, windowStart: 0, windowEnd: 1, note: undefined } }));
    expect(doc).toMatchObject({ alertId: 'a-1', state: 'cleared', ruleState: 'cleared', stateRank: 1, updatedAt: T0 + 5 * MINUTE, raisedAt: T0 + MINUTE, deviceId: null, acknowledgedBy: null, closedAt: null });
    // Through JSON like SQLite's TEXT column: an undefined member is not stored at all.
    expect(Object.keys(doc.evidence)).toEqual(['value', 'threshold', 'windowStart', 'windowEnd']);
    expect(toAlertRow(doc)).not.toHaveProperty('stateRank');
  });

  it('hashes ids longer than Elasticsearch allows, deterministically', () => {
    const long = 'x'.repeat(600);
    expect(documentId('short')).toBe('short');
    expect(documentId(long)).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(documentId(long)).toBe(documentId('x'.repeat(600)));
  });
});

describe('foldAlertEvents (the forward-only rule of SqliteReadModel)', () => {
  const raised = toAlertDocument(alert('raised', T0 + MINUTE));
  const escalated = toAlertDocument(alert('raised', T0 + 3 * MINUTE, { severity: 'critical', change: 'escalated', previousSeverity: 'warning' }));
  const cleared = toAlertDocument(alert('cleared', T0 + 5 * MINUTE));
  const command = (action: AlertCommandBody['action'], at: number, extra: Partial<AlertCommandBody> = {}) => ({ command: { action, alertId: 'a-1', by: 'ana', at, ...extra } });

  it('ends at the furthest state whatever order the events come in', () => {
    const orders = [
      [raised, escalated, cleared],
      [cleared, raised, escalated],
      [escalated, cleared, raised],
    ];
    for (const events of orders) expect(foldAlertEvents(undefined, events)).toEqual(cleared);
  });

  it('never moves back, and takes a later event of the same state', () => {
    expect(foldAlertEvents(cleared, [raised])).toBe(cleared);
    const laterRaise = toAlertDocument(alert('raised', T0 + 2 * MINUTE, { message: 'worse' }));
    expect(foldAlertEvents(raised, [laterRaise])?.message).toBe('worse');
    expect(foldAlertEvents(laterRaise, [raised])?.message).toBe('worse');
  });

  it('keeps the first lineId and the earliest raisedAt when an event moves the alert forward', () => {
    const moved = toAlertDocument(alert('cleared', T0 + 9 * MINUTE, { lineId: 'L08', raisedAt: T0 + 4 * MINUTE }));
    expect(foldAlertEvents(raised, [moved])).toMatchObject({ state: 'cleared', lineId: 'L07', raisedAt: T0 + MINUTE, updatedAt: T0 + 9 * MINUTE });
  });

  it('leaves a stored alert alone when nothing is further along (a replay)', () => {
    expect(foldAlertEvents(escalated, [raised, escalated])).toBe(escalated);
    expect(foldAlertEvents(undefined, [])).toBeUndefined();
  });

  it('applies commands to the decisions, which later events keep, and drops a command about a missing alert', () => {
    const acked = foldAlertEvents(raised, [command('acknowledge', T0 + 2 * MINUTE, { note: 'on it' }), escalated]);
    expect(acked).toMatchObject({ state: 'acknowledged', severity: 'critical', acknowledgedBy: 'ana', acknowledgedAt: T0 + 2 * MINUTE, note: 'on it' });
    const closed = foldAlertEvents(acked, [command('close', T0 + 4 * MINUTE, { reason: 'line stopped reporting' }), cleared]);
    expect(closed).toMatchObject({ state: 'closed', ruleState: 'cleared', closedBy: 'ana', reason: 'line stopped reporting', acknowledgedBy: 'ana' });
    expect(foldAlertEvents(closed, [command('close', T0 + 6 * MINUTE, { reason: 'again' })])).toBe(closed);
    expect(foldAlertEvents(closed, [command('reopen', T0 + 7 * MINUTE)])).toMatchObject({ state: 'cleared', closedAt: null, reason: null });
    expect(foldAlertEvents(undefined, [command('close', T0, { reason: 'x' })])).toBeUndefined();
  });
});

describe('line deltas', () => {
  it('create a line with zero counters and no reading time unless told', () => {
    expect(applyLineDelta(undefined, { lineId: 'L1' })).toEqual({ lineId: 'L1', latestReadingTime: null, lateReadings: 0, duplicateReadings: 0, deliveryDelay: null });
  });

  it('never lower a stored value', () => {
    const stored = { lineId: 'L1', latestReadingTime: 500, lateReadings: 4, duplicateReadings: 9 };
    expect(applyLineDelta(stored, { lineId: 'L1', latestReadingTime: 300, lateReadings: 2, duplicateReadings: 10 })).toEqual({
      lineId: 'L1',
      latestReadingTime: 500,
      lateReadings: 4,
      duplicateReadings: 10,
      deliveryDelay: null,
    });
    expect(applyLineDelta({ ...stored, latestReadingTime: null }, { lineId: 'L1', latestReadingTime: 300 }).latestReadingTime).toBe(300);
  });

  // The same rule as SqliteReadModel's delivery-delay upsert (sqlite.spec.ts checks that side).
  it('keep the delivery delay measured latest, not the highest, whatever the order (ties: the higher figures)', () => {
    const early = { ewmaMs: 180_000, maxMs: 240_000, measuredAt: 1_000 };
    const later = { ewmaMs: 2_000, maxMs: 240_000, measuredAt: 5_000 };
    const tie = { ewmaMs: 3_000, maxMs: 240_000, measuredAt: 5_000 };
    const stored = { lineId: 'L1', latestReadingTime: 500, lateReadings: 4, duplicateReadings: 9, deliveryDelay: later };
    expect(applyLineDelta(stored, { lineId: 'L1', deliveryDelay: early }).deliveryDelay).toEqual(later);
    expect(applyLineDelta(stored, { lineId: 'L1', lateReadings: 5 }).deliveryDelay).toEqual(later);
    expect(applyLineDelta(stored, { lineId: 'L1', deliveryDelay: tie }).deliveryDelay).toEqual(tie);
    // A document from before delivery delays (no field) takes the first one it is given.
    const { deliveryDelay: _none, ...old } = stored;
    expect(applyLineDelta(old, { lineId: 'L1', deliveryDelay: early }).deliveryDelay).toEqual(early);
    for (const [x, y] of [[early, later], [later, tie], [early, tie]]) {
      const a = { lineId: 'L1', deliveryDelay: x };
      const b = { lineId: 'L1', lateReadings: 1, deliveryDelay: y };
      expect(combineLineDeltas(a, b)).toEqual(combineLineDeltas(b, a));
      expect(combineLineDeltas(a, b).deliveryDelay).toEqual(y);
    }
    expect(lineDeltaFromCounters({ lineId: 'L1', lateReadings: 1, duplicateReadings: 0, deliveryDelay: { ...tie, extra: 1 } as typeof tie })).toEqual({
      lineId: 'L1',
      lateReadings: 1,
      duplicateReadings: 0,
      deliveryDelay: tie,
    });
  });

  it('combine by maximum, so order does not matter', () => {
    const a = { lineId: 'L1', latestReadingTime: 7, lateReadings: 1 };
    const b = { lineId: 'L1', lateReadings: 3, duplicateReadings: 2 };
    expect(combineLineDeltas(a, b)).toEqual({ lineId: 'L1', latestReadingTime: 7, lateReadings: 3, duplicateReadings: 2 });
    expect(combineLineDeltas(b, a)).toEqual(combineLineDeltas(a, b));
  });
});
