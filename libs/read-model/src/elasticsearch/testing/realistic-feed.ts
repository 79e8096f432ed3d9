// Test data for the Elasticsearch engine specs (not exported from the library).
import {
  alertCommandEnvelope,
  ENVELOPE_VERSION,
  readingTopic,
  type AlertBody,
  type AlertCommandBody,
  type AlertCommandEnvelope,
  type AlertEnvelope,
  type AlertState,
  type ReadingEnvelope,
} from '@meterstream/contracts';
import { StreamTopology } from '@meterstream/processing';
import { deadLetterEnvelope, readingEnvelope, seededRandom } from '@meterstream/test-harness';
import type { LineCounters, ReadModelBatch } from '../../read-model';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
/** 20:00 UTC: the feed runs over two midnights, so readings and aggregates span three daily indices. */
export const FEED_START = Date.parse('2026-11-27T20:00:00.000Z');
export const FEED_HOURS = 40;
export const LINES = ['L01', 'L02', 'L03'];
const METERS_PER_LINE = 4;
const READING_INTERVAL_MS = 10 * MINUTE;

/**
 * A small fleet as the processor would see it: every meter reports every 10 minutes (so readings
 * of one line share event times: the deviceId tie-break matters), voltage follows a daily load
 * curve, and line L03's tail sags below ANSI Range A every evening (alerts raised and cleared).
 * Some readings lack current/kW/kWh, some carry a status. The readings go through the real
 * processing core (30-minute windows, per line and per meter), so aggregates and alerts are
 * exactly what production writes. Returned as the processor's batches, in log order.
 */
export function realisticFeed(seed = 7): ReadModelBatch[] {
  const random = seededRandom(seed);
  const topology = new StreamTopology({ windowSizeMs: 30 * MINUTE, perMeter: true, outOfOrdernessMs: MINUTE, allowedLatenessMs: 0, idleTimeoutMs: Number.POSITIVE_INFINITY });
  const batches: ReadModelBatch[] = [];
  let readings: ReadingEnvelope[] = [];
  const kwh = new Map<string, number>();
  const cut = () => {
    const output = topology.takeOutput();
    batches.push({ readings, aggregates: output.aggregates, alerts: output.alerts, cvrHours: output.cvrHours });
    readings = [];
  };
  for (let t = FEED_START; t < FEED_START + FEED_HOURS * HOUR; t += READING_INTERVAL_MS) {
    const hourOfDay = new Date(t).getUTCHours() + new Date(t).getUTCMinutes() / 60;
    const load = 0.5 + 0.35 * Math.exp(-((hourOfDay - 19) ** 2) / 6) + 0.2 * Math.exp(-((hourOfDay - 8) ** 2) / 3);
    for (const lineId of LINES) {
      for (let m = 1; m <= METERS_PER_LINE; m++) {
        const deviceId = `m-${lineId}-${String(m).padStart(2, '0')}`;
        const sag = lineId === 'L03' && m >= 3 ? 12 * load : 4 * load * (m / METERS_PER_LINE);
        const voltage = Math.round((123.5 - sag + (random() - 0.5) * 1.2) * 100) / 100;
        const fields: Record<string, unknown> = { voltage };
        if (random() > 0.1) {
          const current = Math.round((6 + 8 * load + random()) * 100) / 100;
          const energy = (kwh.get(deviceId) ?? 10_000 + m * 1000) + (current * voltage * READING_INTERVAL_MS) / HOUR / 1000;
          kwh.set(deviceId, energy);
          Object.assign(fields, { current, kw: Math.round(current * voltage) / 1000, kwh: Math.round(energy * 10) / 10 });
        }
        if (random() > 0.7) fields.powerFactor = Math.round((0.9 + random() * 0.09) * 100) / 100;
        if (random() > 0.95) fields.status = random() > 0.5 ? 'ok' : 'tamper-suspected';
        const reading = readingEnvelope(lineId, deviceId, t, fields);
        readings.push(reading);
        topology.process(lineId, reading, reading.ingestTime);
      }
    }
    if (readings.length >= 120) cut();
  }
  // The end of the stream: let the last windows fire as an idle line would.
  topology.advanceProcessingTime(FEED_START + (FEED_HOURS + 2) * HOUR);
  cut();
  return batches;
}

/** An alert event as a rule would emit it; `body` overrides any field. */
export function alertEvent(alertId: string, state: AlertState, eventTime: number, body: Partial<AlertBody> = {}): AlertEnvelope {
  const full: AlertBody = {
    alertId,
    kind: 'voltage-low',
    state,
    severity: 'warning',
    lineId: 'L02',
    message: `line L02 below 114 V (${state})`,
    evidence: { value: 113.2, threshold: 114, windowStart: eventTime - 30 * MINUTE, windowEnd: eventTime, modelVersion: 3 },
    raisedAt: FEED_START + HOUR,
    ...body,
  };
  return { v: ENVELOPE_VERSION, type: 'alert', id: `${alertId}:${state}`, lineId: full.lineId, deviceId: full.deviceId ?? null, eventTime, ingestTime: eventTime, body: full };
}

/**
 * Alerts whose events arrive out of order and repeated (a replay after a crash), an escalation
 * among them, with equal raisedAt values so the alertId tie-break counts.
 */
export function shuffledAlertEvents(): AlertEnvelope[] {
  const t = FEED_START + 2 * HOUR;
  return [
    alertEvent('alert:L02:a', 'cleared', t + 3 * HOUR, { severity: 'critical' }),
    alertEvent('alert:L02:a', 'raised', t),
    alertEvent('alert:L02:a', 'raised', t + HOUR, { severity: 'critical', change: 'escalated', previousSeverity: 'warning' }),
    alertEvent('alert:L02:b', 'raised', t + HOUR, { severity: 'critical', change: 'escalated', previousSeverity: 'warning', deviceId: 'm-L02-04', message: 'meter m-L02-04 at 109 V' }),
    alertEvent('alert:L02:b', 'raised', t),
    alertEvent('alert:L02:c', 'raised', t, { kind: 'meter-frozen' }),
    alertEvent('alert:L02:c', 'raised', t + 2 * HOUR, { message: 'still frozen, updated' }),
    alertEvent('alert:L02:c', 'raised', t + HOUR, { message: 'older update, must not win' }),
    alertEvent('alert:L01:d', 'raised', FEED_START + HOUR, { lineId: 'L01', evidence: { value: 127.4, threshold: 126, windowStart: 0, windowEnd: 1, nested: { a: [1, 2.5, null] } } }),
    // Only an alert on a line with no readings creates that line.
    alertEvent('alert:L09:e', 'raised', FEED_START + 5 * HOUR, { lineId: 'L09', raisedAt: FEED_START + 5 * HOUR }),
  ];
}

/**
 * Operators' commands about those alerts, in the order the API accepted them: an acknowledgement
 * (and a second one, which changes nothing), a close with a reason, a close then a reopen, and
 * one about an alert no read model holds.
 */
export function alertCommands(): AlertCommandEnvelope[] {
  const t = FEED_START + 2 * HOUR;
  const command = (alertId: string, action: AlertCommandBody['action'], at: number, extra: Partial<AlertCommandBody> = {}) =>
    alertCommandEnvelope({ action, alertId, by: 'dispatch-ana', at, ...extra }, { lineId: 'L02', deviceId: null });
  return [
    command('alert:L02:b', 'acknowledge', t + 10 * MINUTE, { note: 'crew on the way' }),
    command('alert:L02:b', 'acknowledge', t + 11 * MINUTE, { by: 'dispatch-bo' }),
    command('alert:L02:c', 'close', t + 20 * MINUTE, { reason: 'line stopped reporting' }),
    command('alert:L02:a', 'close', t + 30 * MINUTE, { reason: 'planned works' }),
    command('alert:L02:a', 'reopen', t + 40 * MINUTE, { note: 'works done, still low' }),
    command('alert:L02:zz', 'close', t + 50 * MINUTE, { reason: 'no such alert' }),
  ];
}

/** Dead letters with some equal receivedAt values (ordered by id then) and one a lineId-less topic. */
export function deadLetters(): ReadModelBatch['deadLetters'] {
  const letters = [];
  for (let i = 0; i < 9; i++) {
    const payload = Buffer.from(i % 3 === 0 ? `{"deviceId":"m-${i}",` : JSON.stringify({ deviceId: `m-${i}`, voltage: 'high' }));
    letters.push(deadLetterEnvelope(readingTopic(LINES[i % 3]), payload, FEED_START + Math.floor(i / 2) * MINUTE));
  }
  letters.push(deadLetterEnvelope('meters/unknown', Buffer.from([0xde, 0xad, 0xbe, 0xef]), FEED_START + 10 * MINUTE));
  return letters;
}

/**
 * `count` dead letters on a readings topic, `perMillisecond` of them sharing each receivedAt (so a
 * page boundary falls inside a millisecond), newest last: the reverse of the order they are read.
 */
export function manyDeadLetters(count: number, perMillisecond = 7): NonNullable<ReadModelBatch['deadLetters']> {
  return Array.from({ length: count }, (_, i) =>
    deadLetterEnvelope(readingTopic(LINES[i % LINES.length]), Buffer.from(`{"deviceId":"m-${i}","voltage":`), FEED_START + 2 * HOUR + Math.floor(i / perMillisecond)),
  );
}

/**
 * Running totals as the processor reports them; the later, lower ones are stale replays. Delivery
 * delays are kept by measurement time, not by size: L01 ends with the one measured at +40 min
 * (lower than the stale one re-applied after it), L02 with the higher of two measured at once.
 */
export function counterUpdates(): LineCounters[][] {
  const delay = (ewmaMs: number, maxMs: number, minutes: number) => ({ ewmaMs, maxMs, measuredAt: FEED_START + minutes * 60_000 });
  return [
    [{ lineId: 'L01', lateReadings: 2, duplicateReadings: 5, deliveryDelay: delay(180_000, 240_000, 10) }],
    [
      { lineId: 'L01', lateReadings: 1, duplicateReadings: 9, deliveryDelay: delay(2_000, 240_000, 40) },
      { lineId: 'L02', lateReadings: 4, duplicateReadings: 0, deliveryDelay: delay(500, 900, 20) },
      { lineId: 'L02', lateReadings: 4, duplicateReadings: 0, deliveryDelay: delay(700, 900, 20) },
    ],
    [{ lineId: 'L10', lateReadings: 3, duplicateReadings: 1 }],
    [
      { lineId: 'L02', lateReadings: 2, duplicateReadings: 0 },
      { lineId: 'L01', lateReadings: 2, duplicateReadings: 5, deliveryDelay: delay(180_000, 240_000, 10) },
    ],
  ];
}
