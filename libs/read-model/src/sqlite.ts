import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { AggregateEnvelope, AlertCommandEnvelope, AlertEnvelope, DeadLetterEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { alertStatus, applyAlertCommand, ruleStateOf, ruleStateRank, type AlertDecisions, type AlertStatus } from './alert-decisions';
import type {
  AggregateQuery,
  AggregateRow,
  AlertQuery,
  AlertRow,
  DeadLetterPosition,
  DeadLetterRow,
  LineSummary,
  ReadModel,
  ReadModelBatch,
  ReadingRow,
  TimeRange,
} from './read-model';
import type { LineHourFigures } from '@meterstream/cvr';

/**
 * The embedded read model: tables prefixed `rm_` in the same SQLite file as the embedded stream
 * log and the processor's checkpoints. The processor calls the `*Sync` write methods inside its
 * own transaction, so its outputs, this read model and its checkpoint commit atomically; the
 * async port methods are for everyone else.
 *
 * Every write is idempotent by id: readings, aggregates and dead letters are INSERT OR IGNORE;
 * alerts are one row per alertId, upserted by each alert event, only ever forward (ruleStateRank),
 * with the operators' decisions (alert commands) in columns of their own that alert events leave alone;
 * a line's counters only rise, and its delivery delay is the one measured latest (measuredAt).
 */
export class SqliteReadModel implements ReadModel {
  private readonly statements: Statements;
  /** Set by `open()`: this model owns the handle and closes it in `close()`. */
  private ownsDatabase = false;

  /**
   * Builds the model over an open handle and migrates it (idempotent). The caller owns the
   * handle: `close()` leaves it open. A read-only handle works once the tables exist.
   */
  constructor(private readonly db: Database.Database) {
    this.migrate();
    this.statements = prepareStatements(db);
  }

  /**
   * Opens (creating when missing) a database file in WAL mode with a 5 s busy timeout, for a
   * process that reads while another one writes. The returned model closes the handle.
   */
  static open(file: string, options: { readonly?: boolean } = {}): SqliteReadModel {
    if (!options.readonly) fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    try {
      db.pragma('busy_timeout = 5000');
      if (!options.readonly) db.pragma('journal_mode = WAL');
      const model = new SqliteReadModel(db);
      model.ownsDatabase = true;
      return model;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Creates the `rm_` tables and indexes when missing. Safe to call any number of times. */
  migrate(): void {
    try {
      this.db.exec(SCHEMA);
      // Data folders from before the per-line counters existed.
      const columns = new Set((this.db.pragma('table_info(rm_lines)') as { name: string }[]).map((c) => c.name));
      if (!columns.has('late_readings')) this.db.exec('ALTER TABLE rm_lines ADD COLUMN late_readings INTEGER NOT NULL DEFAULT 0');
      if (!columns.has('duplicate_readings')) this.db.exec('ALTER TABLE rm_lines ADD COLUMN duplicate_readings INTEGER NOT NULL DEFAULT 0');
      // ... and before delivery delays: NULL there until the processor measures one.
      for (const column of ['delivery_delay_ms', 'delivery_delay_max_ms', 'delivery_delay_at']) {
        if (!columns.has(column)) this.db.exec(`ALTER TABLE rm_lines ADD COLUMN ${column} INTEGER`);
      }
      // ... and before alert commands: the rule's state gets a column of its own, the decisions
      // theirs; an alert acknowledged the old way (an `acknowledged` alert event) stays acknowledged.
      const alertColumns = new Set((this.db.pragma('table_info(rm_alerts)') as { name: string }[]).map((c) => c.name));
      if (!alertColumns.has('rule_state')) {
        this.db.exec("ALTER TABLE rm_alerts ADD COLUMN rule_state TEXT NOT NULL DEFAULT 'raised'");
        for (const [column, type] of DECISION_COLUMNS) this.db.exec(`ALTER TABLE rm_alerts ADD COLUMN ${column} ${type}`);
        this.db.exec(`UPDATE rm_alerts SET rule_state = CASE state WHEN 'cleared' THEN 'cleared' ELSE 'raised' END,
          state_rank = CASE state WHEN 'cleared' THEN 1 ELSE 0 END,
          acknowledged_by = CASE state WHEN 'acknowledged' THEN '(acknowledged before alert commands)' END,
          acknowledged_at = CASE state WHEN 'acknowledged' THEN updated_at END`);
      }
      // ... and before window percentiles and energy: their old windows keep NULL there.
      const aggregateColumns = new Set((this.db.pragma('table_info(rm_aggregates)') as { name: string }[]).map((c) => c.name));
      for (const column of ['v_p5', 'v_p95', 'energy_kwh']) {
        if (!aggregateColumns.has(column)) this.db.exec(`ALTER TABLE rm_aggregates ADD COLUMN ${column} REAL`);
      }
    } catch (err) {
      if (this.db.readonly) {
        throw new Error(
          `the read model tables are missing from read-only database ${this.db.name}: start the stream processor first (it creates them) or open the database read-write (${(err as Error).message})`,
        );
      }
      throw err;
    }
  }

  /**
   * Writes a batch WITHOUT opening a transaction: the caller wraps it (the processor commits it
   * with its checkpoint). Re-applying any batch, in any order, leaves the same state.
   */
  applySync(batch: ReadModelBatch): void {
    const s = this.statements;
    if (batch.readings && batch.readings.length > 0) {
      // One rm_lines upsert per line per batch instead of per reading.
      const latestByLine = new Map<string, number>();
      insertReadings(s.insertReading, s.insertReadingsChunk, batch.readings);
      for (const envelope of batch.readings) {
        const latest = latestByLine.get(envelope.lineId);
        if (latest === undefined || envelope.eventTime > latest) latestByLine.set(envelope.lineId, envelope.eventTime);
      }
      for (const [lineId, time] of latestByLine) s.upsertLineReadingTime.run(lineId, time);
    }
    if (batch.aggregates && batch.aggregates.length > 0) {
      const lines = new Set<string>();
      for (const envelope of batch.aggregates) {
        insertAggregate(s.insertAggregate, envelope);
        lines.add(envelope.body.lineId);
      }
      for (const lineId of lines) s.insertLine.run(lineId);
    }
    if (batch.alerts && batch.alerts.length > 0) {
      const lines = new Set<string>();
      for (const envelope of batch.alerts) {
        upsertAlert(s.upsertAlert, envelope);
        lines.add(envelope.body.lineId);
      }
      for (const lineId of lines) s.insertLine.run(lineId);
    }
    // After the alert events: a command about an alert raised in the same batch finds it.
    for (const command of batch.alertCommands ?? []) applyCommand(s, command);
    for (const c of batch.lineCounters ?? []) {
      s.upsertLineCounters.run(c.lineId, c.lateReadings, c.duplicateReadings);
      // Latest by measuredAt, not by maximum (see isNewerDeliveryDelay; the upsert's WHERE says the same).
      const delay = c.deliveryDelay;
      if (delay !== undefined) s.upsertLineDeliveryDelay.run(c.lineId, delay.ewmaMs, delay.maxMs, delay.measuredAt);
    }
    for (const hour of batch.cvrHours ?? []) s.upsertCvrHour.run(hour.id, hour.lineId, hour.hourStart, JSON.stringify(hour));
    // Dead letters do not create lines: their lineId may be "(unknown)" or a typo from a bad topic.
    for (const envelope of batch.deadLetters ?? []) insertDeadLetter(s.insertDeadLetter, envelope);
  }

  /**
   * Deletes raw readings with event time before `olderThan`, WITHOUT opening a transaction.
   * rm_lines keeps each line's latest reading time: it is history, not a pointer to a row.
   */
  pruneReadingsSync(olderThan: number): number {
    return this.statements.pruneReadings.run(olderThan).changes;
  }

  async cvrHours(lineId: string | null, range: TimeRange): Promise<LineHourFigures[]> {
    const rows = (lineId === null ? this.statements.cvrHoursAll.all(range.from, range.to) : this.statements.cvrHoursOfLine.all(lineId, range.from, range.to)) as { body: string }[];
    return rows.map((row) => JSON.parse(row.body) as LineHourFigures);
  }

  async deadLetterCount(): Promise<number> {
    return this.statements.countDeadLetters.get() as number;
  }

  /** Empties every read-model table, WITHOUT opening a transaction (a rebuild wraps it). */
  clearSync(): void {
    for (const table of ['rm_readings', 'rm_aggregates', 'rm_alerts', 'rm_dead_letters', 'rm_lines', 'rm_cvr_hours']) this.db.exec(`DELETE FROM ${table}`);
  }

  async apply(batch: ReadModelBatch): Promise<void> {
    this.db.transaction(() => this.applySync(batch))();
  }

  /** Every apply() commits its own transaction: nothing is ever pending. */
  async flush(): Promise<void> {}

  async pruneReadings(olderThan: number): Promise<number> {
    return this.db.transaction(() => this.pruneReadingsSync(olderThan))();
  }

  async lines(): Promise<LineSummary[]> {
    const lines = this.statements.allLines.all() as LineRecord[];
    const openAlerts = this.statements.openAlerts.all().map((r) => toAlertRow(r as AlertRecord));
    const alertsByLine = new Map<string, AlertRow[]>();
    for (const alert of openAlerts) {
      const list = alertsByLine.get(alert.lineId);
      if (list) list.push(alert);
      else alertsByLine.set(alert.lineId, [alert]);
    }
    return lines.map((line) => this.summary(line, alertsByLine.get(line.lineId) ?? []));
  }

  async line(lineId: string): Promise<LineSummary | null> {
    const line = this.statements.oneLine.get(lineId) as LineRecord | undefined;
    if (!line) return null;
    const openAlerts = this.statements.openAlertsOfLine.all(lineId).map((r) => toAlertRow(r as AlertRecord));
    return this.summary(line, openAlerts);
  }

  async aggregates(lineId: string, range: TimeRange, query: AggregateQuery = {}): Promise<AggregateRow[]> {
    const rows = this.statements.aggregatesInRange.all(lineId, query.deviceId ?? null, range.from, range.to) as AggregateRecord[];
    return rows.map(toAggregateRow);
  }

  async readings(lineId: string, range: TimeRange, limit: number): Promise<ReadingRow[]> {
    return this.statements.readingsInRange.all(lineId, range.from, range.to, limit) as ReadingRow[];
  }

  async alerts(query: AlertQuery): Promise<AlertRow[]> {
    const states = query.state === undefined ? null : query.state === 'open' ? OPEN_STATES : [query.state];
    const rows = this.statements.alertsMatching.all({
      anyState: states === null ? 1 : 0,
      state1: states?.[0] ?? null,
      state2: states?.[1] ?? null,
      lineId: query.lineId ?? null,
      limit: query.limit ?? -1, // SQLite: a negative LIMIT means none
    }) as AlertRecord[];
    return rows.map(toAlertRow);
  }

  async deadLetters(limit: number, after?: DeadLetterPosition): Promise<DeadLetterRow[]> {
    const rows = after === undefined ? this.statements.newestDeadLetters.all(limit) : this.statements.deadLettersAfter.all({ ...after, limit });
    return (rows as DeadLetterRecord[]).map(toDeadLetterRow);
  }

  async close(): Promise<void> {
    if (this.ownsDatabase && this.db.open) this.db.close();
  }

  private summary(line: LineRecord, openAlerts: AlertRow[]): LineSummary {
    const latest = this.statements.latestLineWindow.get(line.lineId) as AggregateRecord | undefined;
    return {
      lineId: line.lineId,
      latestReadingTime: line.latestReadingTime,
      latestWindow: latest ? toAggregateRow(latest) : null,
      openAlerts,
      lateReadings: line.lateReadings,
      duplicateReadings: line.duplicateReadings,
      deliveryDelay: toDeliveryDelay(line),
    };
  }
}

const OPEN_STATES: readonly AlertStatus[] = ['raised', 'acknowledged'];

/** The operators' decisions (AlertDecisions), one column each; alert events never write them. */
const DECISION_COLUMNS: readonly [column: string, type: string][] = [
  ['acknowledged_by', 'TEXT'],
  ['acknowledged_at', 'INTEGER'],
  ['ack_note', 'TEXT'],
  ['closed_by', 'TEXT'],
  ['closed_at', 'INTEGER'],
  ['close_reason', 'TEXT'],
];

const SCHEMA = `
-- The key is (event_time, device_id), not the text id: a reading's id is by contract
-- readingId(deviceId, eventTime), so the two are unique together, and a time-major key turns
-- inserts into appends (an id-keyed table rewrites a random page per meter per batch, about 2.5x
-- slower) and pruning into one range delete. The id is still stored, for readers.
CREATE TABLE IF NOT EXISTS rm_readings (
  id TEXT NOT NULL,
  line_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  event_time INTEGER NOT NULL,
  voltage REAL NOT NULL,
  current REAL,
  power_factor REAL,
  kw REAL,
  kwh REAL,
  status TEXT,
  PRIMARY KEY (event_time, device_id)
) WITHOUT ROWID;
-- device_id makes the order of readings with the same event time deterministic without a sort.
CREATE INDEX IF NOT EXISTS rm_readings_line_time ON rm_readings (line_id, event_time, device_id);

CREATE TABLE IF NOT EXISTS rm_aggregates (
  id TEXT PRIMARY KEY,
  line_id TEXT NOT NULL,
  device_id TEXT,
  window_start INTEGER NOT NULL,
  window_end INTEGER NOT NULL,
  count INTEGER NOT NULL,
  meters INTEGER NOT NULL,
  v_min REAL NOT NULL,
  v_max REAL NOT NULL,
  v_mean REAL NOT NULL,
  v_stddev REAL NOT NULL,
  current_mean REAL,
  current_max REAL,
  kw_mean REAL,
  kw_max REAL,
  -- Nullable, like the columns migrate() adds to older files, so both schemas are the same.
  v_p5 REAL,
  v_p95 REAL,
  energy_kwh REAL
);
-- device_id sits between line and time so per-line windows (device_id IS NULL) are one index
-- range even when the processor also writes per-meter windows for the same line.
CREATE INDEX IF NOT EXISTS rm_aggregates_line_window ON rm_aggregates (line_id, device_id, window_start);

-- CVR figures per line and UTC hour (libs/cvr LineHourFigures as JSON): derived state kept like
-- the aggregates, so a season's CVR analysis never depends on raw-reading retention.
CREATE TABLE IF NOT EXISTS rm_cvr_hours (
  id TEXT PRIMARY KEY,
  line_id TEXT NOT NULL,
  hour_start INTEGER NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_cvr_hours_line ON rm_cvr_hours (line_id, hour_start);

-- state: what the API shows (alertStatus of rule_state and the decisions), kept current by every
-- write so that filters use the index; state_rank: the rule's (ruleStateRank).
CREATE TABLE IF NOT EXISTS rm_alerts (
  alert_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  rule_state TEXT NOT NULL DEFAULT 'raised',
  state_rank INTEGER NOT NULL,
  severity TEXT NOT NULL,
  line_id TEXT NOT NULL,
  device_id TEXT,
  message TEXT NOT NULL,
  evidence TEXT NOT NULL,
  raised_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  acknowledged_by TEXT,
  acknowledged_at INTEGER,
  ack_note TEXT,
  closed_by TEXT,
  closed_at INTEGER,
  close_reason TEXT
);
CREATE INDEX IF NOT EXISTS rm_alerts_state ON rm_alerts (state, raised_at);
CREATE INDEX IF NOT EXISTS rm_alerts_line ON rm_alerts (line_id, raised_at);

CREATE TABLE IF NOT EXISTS rm_dead_letters (
  id TEXT PRIMARY KEY,
  line_id TEXT NOT NULL,
  device_id TEXT,
  topic TEXT NOT NULL,
  reason TEXT NOT NULL,
  errors TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_dead_letters_received ON rm_dead_letters (received_at);

CREATE TABLE IF NOT EXISTS rm_lines (
  line_id TEXT PRIMARY KEY,
  latest_reading_time INTEGER,
  late_readings INTEGER NOT NULL DEFAULT 0,
  duplicate_readings INTEGER NOT NULL DEFAULT 0,
  -- The latest delivery delay measured (LineCounters.deliveryDelay), NULL before the first.
  delivery_delay_ms INTEGER,
  delivery_delay_max_ms INTEGER,
  delivery_delay_at INTEGER
);
`;

const DECISION_SELECT = `acknowledged_by AS acknowledgedBy, acknowledged_at AS acknowledgedAt, ack_note AS note,
  closed_by AS closedBy, closed_at AS closedAt, close_reason AS reason`;

const LINE_COLUMNS = `line_id AS lineId, latest_reading_time AS latestReadingTime, late_readings AS lateReadings, duplicate_readings AS duplicateReadings,
  delivery_delay_ms AS deliveryDelayMs, delivery_delay_max_ms AS deliveryDelayMaxMs, delivery_delay_at AS deliveryDelayAt`;

const READING_COLUMNS = `id, line_id AS lineId, device_id AS deviceId, event_time AS eventTime, voltage, current,
  power_factor AS powerFactor, kw, kwh, status`;
const AGGREGATE_COLUMNS = `id, line_id AS lineId, device_id AS deviceId, window_start AS windowStart,
  window_end AS windowEnd, count, meters, v_min, v_max, v_mean, v_stddev, v_p5, v_p95, current_mean, current_max, kw_mean, kw_max,
  energy_kwh`;
const ALERT_COLUMNS = `alert_id AS alertId, kind, state, rule_state AS ruleState, severity, line_id AS lineId, device_id AS deviceId, message,
  evidence, raised_at AS raisedAt, updated_at AS updatedAt, ${DECISION_SELECT}`;
/** Newest first; the id breaks ties so pages are stable. */
const ALERT_ORDER = 'ORDER BY raised_at DESC, alert_id ASC';
const DEAD_LETTER_COLUMNS = 'id, line_id AS lineId, device_id AS deviceId, topic, reason, errors, payload, received_at AS receivedAt';
/** The order DeadLetterPosition pages through (and the Elasticsearch adapter sorts by). */
const DEAD_LETTER_ORDER = 'ORDER BY received_at DESC, id ASC';

function prepareStatements(db: Database.Database) {
  return {
    insertReading: db.prepare(
      `INSERT OR IGNORE INTO rm_readings (id, line_id, device_id, event_time, voltage, current, power_factor, kw, kwh, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Many rows per statement: the per-statement cost of better-sqlite3 dominates a narrow insert.
    insertReadingsChunk: db.prepare(
      `INSERT OR IGNORE INTO rm_readings (id, line_id, device_id, event_time, voltage, current, power_factor, kw, kwh, status)
       VALUES ${Array.from({ length: READINGS_PER_STATEMENT }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    ),
    upsertLineReadingTime: db.prepare(
      `INSERT INTO rm_lines (line_id, latest_reading_time) VALUES (?, ?)
       ON CONFLICT (line_id) DO UPDATE SET latest_reading_time =
         max(coalesce(latest_reading_time, excluded.latest_reading_time), excluded.latest_reading_time)`,
    ),
    insertLine: db.prepare('INSERT OR IGNORE INTO rm_lines (line_id, latest_reading_time) VALUES (?, NULL)'),
    insertAggregate: db.prepare(
      `INSERT OR IGNORE INTO rm_aggregates (id, line_id, device_id, window_start, window_end, count, meters,
         v_min, v_max, v_mean, v_stddev, v_p5, v_p95, current_mean, current_max, kw_mean, kw_max, energy_kwh)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // The update only happens when the event is further along (higher state rank, or the same
    // state at a later event time), so events may be re-applied in any order. It leaves the
    // decisions alone and shows the alert as alertStatus does (closed, cleared, acknowledged, raised).
    upsertAlert: db.prepare(
      `INSERT INTO rm_alerts (alert_id, kind, state, rule_state, state_rank, severity, line_id, device_id, message, evidence, raised_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (alert_id) DO UPDATE SET
         kind = excluded.kind, rule_state = excluded.rule_state, state_rank = excluded.state_rank, severity = excluded.severity,
         device_id = excluded.device_id, message = excluded.message, evidence = excluded.evidence,
         raised_at = min(rm_alerts.raised_at, excluded.raised_at), updated_at = excluded.updated_at,
         state = CASE WHEN rm_alerts.closed_at IS NOT NULL THEN 'closed' WHEN excluded.rule_state = 'cleared' THEN 'cleared'
                      WHEN rm_alerts.acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'raised' END
       WHERE excluded.state_rank > rm_alerts.state_rank
          OR (excluded.state_rank = rm_alerts.state_rank AND excluded.updated_at > rm_alerts.updated_at)`,
    ),
    alertDecisions: db.prepare(`SELECT rule_state AS ruleState, ${DECISION_SELECT} FROM rm_alerts WHERE alert_id = ?`),
    updateAlertDecisions: db.prepare(
      `UPDATE rm_alerts SET state = @state, acknowledged_by = @acknowledgedBy, acknowledged_at = @acknowledgedAt, ack_note = @note,
         closed_by = @closedBy, closed_at = @closedAt, close_reason = @reason
       WHERE alert_id = @alertId`,
    ),
    insertDeadLetter: db.prepare(
      `INSERT OR IGNORE INTO rm_dead_letters (id, line_id, device_id, topic, reason, errors, payload, received_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    pruneReadings: db.prepare('DELETE FROM rm_readings WHERE event_time < ?'),
    allLines: db.prepare(`SELECT ${LINE_COLUMNS} FROM rm_lines ORDER BY line_id`),
    oneLine: db.prepare(`SELECT ${LINE_COLUMNS} FROM rm_lines WHERE line_id = ?`),
    countDeadLetters: db.prepare('SELECT count(*) FROM rm_dead_letters').pluck(),
    upsertLineCounters: db.prepare(
      `INSERT INTO rm_lines (line_id, latest_reading_time, late_readings, duplicate_readings) VALUES (?, NULL, ?, ?)
       ON CONFLICT (line_id) DO UPDATE SET late_readings = max(late_readings, excluded.late_readings),
         duplicate_readings = max(duplicate_readings, excluded.duplicate_readings)`,
    ),
    // Replaces the stored figure only with one measured later (or at the same time, higher), so
    // batches may be re-applied in any order: the row ends with the figure of the newest measurement.
    upsertLineDeliveryDelay: db.prepare(
      `INSERT INTO rm_lines (line_id, latest_reading_time, delivery_delay_ms, delivery_delay_max_ms, delivery_delay_at) VALUES (?, NULL, ?, ?, ?)
       ON CONFLICT (line_id) DO UPDATE SET
         delivery_delay_ms = excluded.delivery_delay_ms, delivery_delay_max_ms = excluded.delivery_delay_max_ms, delivery_delay_at = excluded.delivery_delay_at
       WHERE rm_lines.delivery_delay_at IS NULL
          OR (excluded.delivery_delay_at, excluded.delivery_delay_ms, excluded.delivery_delay_max_ms)
           > (rm_lines.delivery_delay_at, rm_lines.delivery_delay_ms, rm_lines.delivery_delay_max_ms)`,
    ),
    latestLineWindow: db.prepare(
      `SELECT ${AGGREGATE_COLUMNS} FROM rm_aggregates WHERE line_id = ? AND device_id IS NULL
       ORDER BY window_start DESC, window_end DESC LIMIT 1`,
    ),
    openAlerts: db.prepare(`SELECT ${ALERT_COLUMNS} FROM rm_alerts WHERE state IN ('raised', 'acknowledged') ${ALERT_ORDER}`),
    openAlertsOfLine: db.prepare(
      `SELECT ${ALERT_COLUMNS} FROM rm_alerts WHERE line_id = ? AND state IN ('raised', 'acknowledged') ${ALERT_ORDER}`,
    ),
    alertsMatching: db.prepare(
      `SELECT ${ALERT_COLUMNS} FROM rm_alerts
       WHERE (@anyState = 1 OR state IN (@state1, @state2)) AND (@lineId IS NULL OR line_id = @lineId)
       ${ALERT_ORDER} LIMIT @limit`,
    ),
    // `device_id IS ?` matches NULL (per-line windows) as well as a meter id, on the index.
    // Idempotent by id: a replayed hour carries the same figures.
    upsertCvrHour: db.prepare('INSERT OR REPLACE INTO rm_cvr_hours (id, line_id, hour_start, body) VALUES (?, ?, ?, ?)'),
    cvrHoursOfLine: db.prepare('SELECT body FROM rm_cvr_hours WHERE line_id = ? AND hour_start >= ? AND hour_start < ? ORDER BY hour_start'),
    cvrHoursAll: db.prepare('SELECT body FROM rm_cvr_hours WHERE hour_start >= ? AND hour_start < ? ORDER BY line_id, hour_start'),
    aggregatesInRange: db.prepare(
      `SELECT ${AGGREGATE_COLUMNS} FROM rm_aggregates
       WHERE line_id = ? AND device_id IS ? AND window_start >= ? AND window_start < ?
       ORDER BY window_start, window_end`,
    ),
    readingsInRange: db.prepare(
      `SELECT ${READING_COLUMNS} FROM rm_readings
       WHERE line_id = ? AND event_time >= ? AND event_time < ?
       ORDER BY event_time, device_id LIMIT ?`,
    ),
    newestDeadLetters: db.prepare(`SELECT ${DEAD_LETTER_COLUMNS} FROM rm_dead_letters ${DEAD_LETTER_ORDER} LIMIT ?`),
    // The first condition alone bounds the scan on rm_dead_letters_received; the second drops the
    // rows of the boundary millisecond that the previous page already returned.
    deadLettersAfter: db.prepare(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM rm_dead_letters
       WHERE received_at <= @receivedAt AND (received_at < @receivedAt OR id > @id)
       ${DEAD_LETTER_ORDER} LIMIT @limit`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

interface LineRecord {
  lineId: string;
  latestReadingTime: number | null;
  lateReadings: number;
  duplicateReadings: number;
  deliveryDelayMs: number | null;
  deliveryDelayMaxMs: number | null;
  deliveryDelayAt: number | null;
}

function toDeliveryDelay(line: LineRecord): LineSummary['deliveryDelay'] {
  if (line.deliveryDelayAt === null || line.deliveryDelayMs === null || line.deliveryDelayMaxMs === null) return null;
  return { ewmaMs: line.deliveryDelayMs, maxMs: line.deliveryDelayMaxMs, measuredAt: line.deliveryDelayAt };
}

interface AggregateRecord {
  id: string;
  lineId: string;
  deviceId: string | null;
  windowStart: number;
  windowEnd: number;
  count: number;
  meters: number;
  v_min: number;
  v_max: number;
  v_mean: number;
  v_stddev: number;
  v_p5: number | null;
  v_p95: number | null;
  current_mean: number | null;
  current_max: number | null;
  kw_mean: number | null;
  kw_max: number | null;
  energy_kwh: number | null;
}

interface AlertRecord extends Omit<AlertRow, 'evidence'> {
  evidence: string;
}

interface DeadLetterRecord extends Omit<DeadLetterRow, 'errors'> {
  errors: string;
}

// Positional parameters: the hot path (readings) runs tens of thousands of times per second.
const READINGS_PER_STATEMENT = 50;

function readingParams(e: ReadingEnvelope, out: unknown[]): void {
  const r = e.body;
  out.push(e.id, e.lineId, r.deviceId, e.eventTime, r.voltage, r.current ?? null, r.powerFactor ?? null, r.kw ?? null, r.kwh ?? null, r.status ?? null);
}

function insertReadings(one: Database.Statement, chunk: Database.Statement, readings: readonly ReadingEnvelope[]): void {
  let i = 0;
  const params: unknown[] = [];
  for (; i + READINGS_PER_STATEMENT <= readings.length; i += READINGS_PER_STATEMENT) {
    params.length = 0;
    for (let j = i; j < i + READINGS_PER_STATEMENT; j++) readingParams(readings[j], params);
    chunk.run(params);
  }
  for (; i < readings.length; i++) {
    params.length = 0;
    readingParams(readings[i], params);
    one.run(params);
  }
}

function insertAggregate(statement: Database.Statement, e: AggregateEnvelope): void {
  const a = e.body;
  statement.run(
    e.id,
    a.lineId,
    a.deviceId ?? null,
    a.windowStart,
    a.windowEnd,
    a.count,
    a.meters,
    a.voltage.min,
    a.voltage.max,
    a.voltage.mean,
    a.voltage.stddev,
    a.voltage.p5,
    a.voltage.p95,
    a.current?.mean ?? null,
    a.current?.max ?? null,
    a.kw?.mean ?? null,
    a.kw?.max ?? null,
    a.energyKwh ?? null,
  );
}

function upsertAlert(statement: Database.Statement, e: AlertEnvelope): void {
  const a = e.body;
  const ruleState = ruleStateOf(a.state);
  statement.run(
    a.alertId,
    a.kind,
    ruleState,
    ruleState,
    ruleStateRank(a.state),
    a.severity,
    a.lineId,
    a.deviceId ?? null,
    a.message,
    JSON.stringify(a.evidence),
    a.raisedAt,
    e.eventTime,
  );
}

/** One operator command: read the alert's decisions, fold the command in, write them back (nothing when the alert is unknown). */
function applyCommand(s: Statements, e: AlertCommandEnvelope): void {
  const row = s.alertDecisions.get(e.body.alertId) as (AlertDecisions & { ruleState: string }) | undefined;
  if (row === undefined) return;
  const { ruleState, ...decisions } = row;
  const next = applyAlertCommand(decisions, e.body);
  if (next === decisions) return;
  s.updateAlertDecisions.run({ alertId: e.body.alertId, state: alertStatus(ruleStateOf(ruleState), next), ...next });
}

function insertDeadLetter(statement: Database.Statement, e: DeadLetterEnvelope): void {
  const d = e.body;
  statement.run(e.id, e.lineId, e.deviceId, d.topic, d.reason, JSON.stringify(d.errors), d.payload, d.receivedAt);
}

function toAggregateRow(r: AggregateRecord): AggregateRow {
  return {
    id: r.id,
    lineId: r.lineId,
    deviceId: r.deviceId,
    windowStart: r.windowStart,
    windowEnd: r.windowEnd,
    count: r.count,
    meters: r.meters,
    voltage: { min: r.v_min, max: r.v_max, mean: r.v_mean, stddev: r.v_stddev, p5: r.v_p5, p95: r.v_p95 },
    current: r.current_mean === null || r.current_max === null ? null : { mean: r.current_mean, max: r.current_max },
    kw: r.kw_mean === null || r.kw_max === null ? null : { mean: r.kw_mean, max: r.kw_max },
    energyKwh: r.energy_kwh,
  };
}

function toAlertRow(r: AlertRecord): AlertRow {
  return { ...r, evidence: JSON.parse(r.evidence) as Record<string, unknown> };
}

function toDeadLetterRow(r: DeadLetterRecord): DeadLetterRow {
  return { ...r, errors: JSON.parse(r.errors) as DeadLetterRow['errors'] };
}
