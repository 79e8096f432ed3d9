import type { AggregateEnvelope, AlertCommandEnvelope, AlertEnvelope, AlertState, DeadLetterEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import type { AlertDecisions, AlertStatus } from './alert-decisions';
import type { LineHourFigures } from '@meterstream/cvr';

/**
 * The read model port: what the query API serves, projected from the streams by the processor.
 * Every write is idempotent by event id, so re-applying a replayed range changes nothing.
 * Adapters: SQLite (embedded default, `sqlite.ts`) and Elasticsearch (`elasticsearch.ts`, entry point
 * @meterstream/read-model/elasticsearch).
 */
/** A line's data-quality counters, as running totals (re-applying older totals never lowers them). */
export interface LineCounters {
  lineId: string;
  /** Readings that arrived after their window had fired: in the late side output, not in any window. */
  lateReadings: number;
  /** Redeliveries recognised by event id and counted once. */
  duplicateReadings: number;
  /** The line's delivery delay as of `measuredAt` (absent: not measured yet; nothing changes then). */
  deliveryDelay?: DeliveryDelay;
}

/**
 * How late a line's readings reach the stream: ingestTime − eventTime. Not a running total (a
 * delay goes down as well as up), so the read model keeps the figure measured latest: the one
 * with the highest `measuredAt`, whatever order writes come in (ties: the higher figures).
 */
export interface DeliveryDelay {
  /** Moving average over the line's recent readings (about the last 20), ms. */
  ewmaMs: number;
  /** Highest delay over the line's last 30 to 60 minutes of arrivals, ms. */
  maxMs: number;
  /** Stream time of the measurement: the arrival (ingestTime, epoch ms) of the line's latest reading then. */
  measuredAt: number;
}

/** True when `a` is to replace `b`: measured later, or at the same time with higher figures (so any order of writes ends the same). */
export function isNewerDeliveryDelay(a: DeliveryDelay, b: DeliveryDelay | null | undefined): boolean {
  if (b === null || b === undefined) return true;
  if (a.measuredAt !== b.measuredAt) return a.measuredAt > b.measuredAt;
  if (a.ewmaMs !== b.ewmaMs) return a.ewmaMs > b.ewmaMs;
  return a.maxMs > b.maxMs;
}

export interface ReadModelBatch {
  readings?: readonly ReadingEnvelope[];
  aggregates?: readonly AggregateEnvelope[];
  alerts?: readonly AlertEnvelope[];
  /**
   * Operators' commands (`alert-commands`), applied after the batch's alert events, in order.
   * A command about an alert the read model does not hold changes nothing.
   */
  alertCommands?: readonly AlertCommandEnvelope[];
  deadLetters?: readonly DeadLetterEnvelope[];
  lineCounters?: readonly LineCounters[];
  /** Per line and hour, the CVR figures (kept like aggregates, not pruned with the raw readings). */
  cvrHours?: readonly LineHourFigures[];
}

export interface TimeRange {
  /** Inclusive, epoch ms. */
  from: number;
  /** Exclusive, epoch ms. */
  to: number;
}

export interface ReadingRow {
  id: string;
  lineId: string;
  deviceId: string;
  eventTime: number;
  voltage: number;
  current: number | null;
  powerFactor: number | null;
  kw: number | null;
  kwh: number | null;
  status: string | null;
}

export interface AggregateRow {
  id: string;
  lineId: string;
  deviceId: string | null;
  windowStart: number;
  windowEnd: number;
  count: number;
  meters: number;
  /** p5/p95: nearest-rank percentiles (see VoltageStats); null on windows stored before they were computed. */
  voltage: { min: number; max: number; mean: number; stddev: number; p5: number | null; p95: number | null };
  current: { mean: number; max: number } | null;
  kw: { mean: number; max: number } | null;
  /** Energy from the kWh registers (see AggregateBody.energyKwh); null when no reading carried kwh. */
  energyKwh: number | null;
}

/** One alert: the rule's latest event combined with the operators' decisions (AlertDecisions). */
export interface AlertRow extends AlertDecisions {
  alertId: string;
  kind: string;
  /** What the API shows: alertStatus(ruleState, decisions). */
  state: AlertStatus;
  /** Where the rule says the alert is (raised or cleared), whatever operators decided. */
  ruleState: AlertState;
  severity: string;
  lineId: string;
  deviceId: string | null;
  message: string;
  evidence: Record<string, unknown>;
  raisedAt: number;
  /** Event time of the rule's latest event about it (raised, escalated, cleared). */
  updatedAt: number;
}

export interface DeadLetterRow {
  id: string;
  lineId: string;
  deviceId: string | null;
  topic: string;
  reason: string;
  errors: { field: string; message: string }[];
  /** The bytes exactly as they arrived, base64. */
  payload: string;
  receivedAt: number;
}

/**
 * A dead letter's place in the newest-first order: (receivedAt descending, id ascending). The id
 * makes the key unique, so letters received in the same millisecond still page exactly.
 */
export interface DeadLetterPosition {
  receivedAt: number;
  id: string;
}

export interface LineSummary {
  lineId: string;
  /** Event time of the newest reading seen on the line (epoch ms), null before the first. */
  latestReadingTime: number | null;
  latestWindow: AggregateRow | null;
  openAlerts: AlertRow[];
  lateReadings: number;
  duplicateReadings: number;
  /** The latest delivery delay measured on the line; null before the first (or on data from before it was measured). */
  deliveryDelay: DeliveryDelay | null;
}

export interface AlertQuery {
  /** 'open' means raised or acknowledged. */
  state?: AlertStatus | 'open';
  lineId?: string;
  /** At most this many alerts, newest first; all when absent. */
  limit?: number;
}

export interface AggregateQuery {
  /** A meter's own windows; when absent, the per-line windows (those without a deviceId). */
  deviceId?: string;
}

export interface ReadModel {
  /**
   * Applies a batch idempotently (by id). Alert events upsert the alert by alertId; alert
   * commands then change the operators' decisions on it (alert-decisions.ts). An adapter
   * may buffer (Elasticsearch does): what apply() accepted is durable only once flush() resolved.
   */
  apply(batch: ReadModelBatch): Promise<void>;
  /** Resolves when everything applied so far is durable (the processor calls it before a checkpoint). */
  flush(): Promise<void>;
  /** Removes raw readings older than the cutoff (event time, epoch ms); returns how many. */
  pruneReadings(olderThan: number): Promise<number>;

  /** Every line that has reported (a reading, a window or an alert), ordered by lineId. */
  lines(): Promise<LineSummary[]>;
  /** One line's summary, or null when the line never reported. */
  line(lineId: string): Promise<LineSummary | null>;
  /** Windows whose start lies in [from, to), ordered by window start. Per-line windows unless `query.deviceId`. */
  aggregates(lineId: string, range: TimeRange, query?: AggregateQuery): Promise<AggregateRow[]>;
  /** Readings with event time in [from, to), oldest first (ties by deviceId), at most `limit`. */
  readings(lineId: string, range: TimeRange, limit: number): Promise<ReadingRow[]>;
  /** Alerts matching the query, newest raised first. */
  alerts(query: AlertQuery): Promise<AlertRow[]>;
  /**
   * Dead letters newest first (receivedAt descending, ties by id ascending), at most `limit`
   * (negative: all). With `after`, only those that come after that position in this order: the
   * next page after a page that ended there. A keyset, not an offset, so letters arriving between
   * two pages neither shift nor repeat rows, and any depth costs the same.
   */
  deadLetters(limit: number, after?: DeadLetterPosition): Promise<DeadLetterRow[]>;
  /** How many dead letters the read model holds. */
  deadLetterCount(): Promise<number>;
  /** A line's CVR hours (every line's with lineId null) whose hour starts in [from, to), by line and hour. */
  cvrHours(lineId: string | null, range: TimeRange): Promise<LineHourFigures[]>;
  close(): Promise<void>;
}
