import { createHash } from 'node:crypto';
import { readingId, type AggregateEnvelope, type AlertCommandBody, type AlertEnvelope, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import { alertStatus, applyAlertCommand, decisionsOf, NO_DECISIONS, ruleStateOf, ruleStateRank } from '../alert-decisions';
import { isNewerDeliveryDelay, type AggregateRow, type AlertRow, type DeadLetterRow, type DeliveryDelay, type LineCounters, type ReadingRow } from '../read-model';

/**
 * The documents the Elasticsearch read model stores. Each is the port's row shape as it is (so a
 * query returns `_source` untouched), plus what the write rules need. The rules mirror
 * SqliteReadModel exactly:
 * - readings, aggregates, dead letters: insert once, by id (first write wins);
 * - alerts: one document per alertId, moving only forward (higher state rank, or the same state
 *   at a later event time), the earliest raisedAt kept, the lineId of the first event kept; the
 *   operators' commands fold into its decision fields (applyAlertCommand), which events leave alone;
 * - lines: latest reading time and counters only ever rise; the delivery delay is the one measured
 *   latest (isNewerDeliveryDelay, as SQLite's upsert decides).
 */
export type ReadingDocument = ReadingRow;
export type AggregateDocument = AggregateRow;
export type DeadLetterDocument = DeadLetterRow;
export interface AlertDocument extends AlertRow {
  /** ruleStateRank(ruleState): the forward-only rule compares it. */
  stateRank: number;
}

/** An operator's command, queued with the alert's events in the order they were applied. */
export interface AlertCommandChange {
  command: AlertCommandBody;
}

/** What folds into an alert document: an alert event (as the document it would be alone) or a command. */
export type AlertChange = AlertDocument | AlertCommandChange;
export interface LineDocument {
  lineId: string;
  latestReadingTime: number | null;
  lateReadings: number;
  duplicateReadings: number;
  /** Absent on documents written before delivery delays were measured: read as null. */
  deliveryDelay?: DeliveryDelay | null;
}

/** Elasticsearch caps `_id` at 512 bytes; a longer id is replaced by its digest (the id field keeps the original). */
const MAX_ID_BYTES = 512;
export function documentId(id: string): string {
  return Buffer.byteLength(id) <= MAX_ID_BYTES ? id : `sha256:${createHash('sha256').update(id).digest('hex')}`;
}

/**
 * A reading's identity is (deviceId, event time), as in SQLite's primary key; by contract that
 * is exactly what its envelope id encodes, and it keeps a reading in the daily index of its time.
 */
export function readingDocumentId(envelope: ReadingEnvelope): string {
  return documentId(readingId(envelope.body.deviceId, envelope.eventTime));
}

export function toReadingDocument(e: ReadingEnvelope): ReadingDocument {
  const r = e.body;
  return {
    id: e.id,
    lineId: e.lineId,
    deviceId: r.deviceId,
    eventTime: e.eventTime,
    voltage: r.voltage,
    current: r.current ?? null,
    powerFactor: r.powerFactor ?? null,
    kw: r.kw ?? null,
    kwh: r.kwh ?? null,
    status: r.status ?? null,
  };
}

export function toAggregateDocument(e: AggregateEnvelope): AggregateDocument {
  const a = e.body;
  return {
    id: e.id,
    lineId: a.lineId,
    deviceId: a.deviceId ?? null,
    windowStart: a.windowStart,
    windowEnd: a.windowEnd,
    count: a.count,
    meters: a.meters,
    voltage: { min: a.voltage.min, max: a.voltage.max, mean: a.voltage.mean, stddev: a.voltage.stddev, p5: a.voltage.p5 ?? null, p95: a.voltage.p95 ?? null },
    // As in SQLite: a quantity is present only with both figures.
    current: a.current?.mean === undefined || a.current.max === undefined ? null : { mean: a.current.mean, max: a.current.max },
    kw: a.kw?.mean === undefined || a.kw.max === undefined ? null : { mean: a.kw.mean, max: a.kw.max },
    energyKwh: a.energyKwh ?? null,
  };
}

/** One alert event as the document it would be if it were the only one (updatedAt = its event time). */
export function toAlertDocument(e: AlertEnvelope): AlertDocument {
  const a = e.body;
  const ruleState = ruleStateOf(a.state);
  return {
    alertId: a.alertId,
    kind: a.kind,
    state: ruleState,
    ruleState,
    stateRank: ruleStateRank(a.state),
    severity: a.severity,
    lineId: a.lineId,
    deviceId: a.deviceId ?? null,
    message: a.message,
    // Through JSON, as SQLite stores it: undefined members vanish the same way in both.
    evidence: JSON.parse(JSON.stringify(a.evidence)) as Record<string, unknown>,
    raisedAt: a.raisedAt,
    updatedAt: e.eventTime,
    ...NO_DECISIONS,
  };
}

export function toDeadLetterDocument(e: DeadLetterEnvelope): DeadLetterDocument {
  const d = e.body;
  return {
    id: e.id,
    lineId: e.lineId,
    deviceId: e.deviceId,
    topic: d.topic,
    reason: d.reason,
    errors: d.errors.map((x) => ({ field: x.field, message: x.message })),
    payload: d.payload,
    receivedAt: d.receivedAt,
  };
}

export function toAlertRow(doc: AlertDocument): AlertRow {
  const { stateRank: _rank, ...row } = doc;
  // Documents written before alert commands lack these fields: as SQLite's migration reads them.
  return { ...row, ruleState: ruleStateOf(row.ruleState ?? row.state), ...decisionsOf(row) };
}

/**
 * Applies alert events and commands, in the order they were applied, to the stored document
 * (undefined when none), as SqliteReadModel does: an event replaces the rule's part only when it
 * is further along and keeps the decisions; a command changes the decisions of a known alert
 * (one about an alert not stored is dropped, as SQLite's update of no row).
 */
export function foldAlertEvents(current: AlertDocument | undefined, changes: readonly AlertChange[]): AlertDocument | undefined {
  let doc = current;
  for (const change of changes) {
    if ('command' in change) {
      if (doc === undefined) continue;
      const decisions = decisionsOf(doc);
      const next = applyAlertCommand(decisions, change.command);
      if (next !== decisions) doc = { ...doc, ...next, state: alertStatus(ruleStateOf(doc.ruleState ?? doc.state), next) };
    } else if (doc === undefined) {
      doc = change;
    } else {
      // Documents from before alert commands have no ruleState: their state and rank were the rule's (acknowledged: raised).
      const rank = doc.ruleState === undefined ? ruleStateRank(doc.state) : doc.stateRank;
      if (change.stateRank > rank || (change.stateRank === rank && change.updatedAt > doc.updatedAt)) {
        const decisions = decisionsOf(doc);
        doc = { ...change, ...decisions, lineId: doc.lineId, raisedAt: Math.min(doc.raisedAt, change.raisedAt), state: alertStatus(change.ruleState, decisions) };
      }
    }
  }
  return doc;
}

/**
 * What a batch says about a line, before it meets the stored document. An absent field says
 * nothing; several deltas combine by maximum (the delivery delay: the one measured latest), so
 * the order they arrive in does not matter.
 */
export interface LineDelta {
  lineId: string;
  latestReadingTime?: number;
  lateReadings?: number;
  duplicateReadings?: number;
  deliveryDelay?: DeliveryDelay;
}

const maxDefined = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined ? b : b === undefined ? a : Math.max(a, b));

/** The delay measured latest of the two (either may be missing). */
const newerDelay = (a: DeliveryDelay | null | undefined, b: DeliveryDelay | null | undefined): DeliveryDelay | undefined => {
  if (a === null || a === undefined) return b ?? undefined;
  return b === null || b === undefined || isNewerDeliveryDelay(a, b) ? a : b;
};

export function combineLineDeltas(a: LineDelta, b: LineDelta): LineDelta {
  const combined: LineDelta = {
    lineId: a.lineId,
    latestReadingTime: maxDefined(a.latestReadingTime, b.latestReadingTime),
    lateReadings: maxDefined(a.lateReadings, b.lateReadings),
    duplicateReadings: maxDefined(a.duplicateReadings, b.duplicateReadings),
  };
  const delay = newerDelay(a.deliveryDelay, b.deliveryDelay);
  if (delay !== undefined) combined.deliveryDelay = delay;
  return combined;
}

/**
 * A line document after a delta: created when missing (counters 0, no reading yet, no delay),
 * values never lowered, the delivery delay replaced only by one measured later.
 */
export function applyLineDelta(current: LineDocument | undefined, delta: LineDelta): LineDocument {
  if (current === undefined) {
    return {
      lineId: delta.lineId,
      latestReadingTime: delta.latestReadingTime ?? null,
      lateReadings: delta.lateReadings ?? 0,
      duplicateReadings: delta.duplicateReadings ?? 0,
      deliveryDelay: delta.deliveryDelay ?? null,
    };
  }
  return {
    lineId: current.lineId,
    latestReadingTime: maxDefined(current.latestReadingTime ?? undefined, delta.latestReadingTime) ?? null,
    lateReadings: maxDefined(current.lateReadings, delta.lateReadings)!,
    duplicateReadings: maxDefined(current.duplicateReadings, delta.duplicateReadings)!,
    deliveryDelay: newerDelay(current.deliveryDelay, delta.deliveryDelay) ?? null,
  };
}

export function lineDeltaFromCounters(c: LineCounters): LineDelta {
  const delta: LineDelta = { lineId: c.lineId, lateReadings: c.lateReadings, duplicateReadings: c.duplicateReadings };
  // Copied field by field: the document's mapping is strict, so nothing else may ride along.
  if (c.deliveryDelay !== undefined) delta.deliveryDelay = { ewmaMs: c.deliveryDelay.ewmaMs, maxMs: c.deliveryDelay.maxMs, measuredAt: c.deliveryDelay.measuredAt };
  return delta;
}
