import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import {
  aggregateId,
  alertCommandEnvelope,
  deadLetter,
  ENVELOPE_VERSION,
  readingTopic,
  type AlertBody,
  type AlertCommandBody,
  type AlertCommandEnvelope,
  type AlertEnvelope,
  type AlertState,
  type ReadingEnvelope,
} from '@meterstream/contracts';
import { aggregateEnvelope, readingEnvelope } from '@meterstream/test-harness';
import { SqliteReadModel } from './sqlite';

const T0 = Date.parse('2026-11-29T05:00:00.000Z');
const MINUTE = 60_000;

function reading(lineId: string, deviceId: string, time: number, voltage: number, extra: Record<string, unknown> = {}): ReadingEnvelope {
  return readingEnvelope(lineId, deviceId, time, { voltage, ...extra });
}

const aggregate = aggregateEnvelope;

function alert(alertId: string, state: AlertState, eventTime: number, overrides: Partial<AlertBody> = {}): AlertEnvelope {
  const body: AlertBody = {
    alertId,
    kind: 'undervoltage',
    state,
    severity: 'warning',
    lineId: 'L07',
    message: `line L07 mean voltage 112.9 V below 114 V (${state})`,
    evidence: { value: 112.9, threshold: 114, windowStart: T0, windowEnd: T0 + MINUTE },
    raisedAt: T0 + MINUTE,
    ...overrides,
  };
  return { v: ENVELOPE_VERSION, type: 'alert', id: `${alertId}:${state}`, lineId: body.lineId, deviceId: body.deviceId ?? null, eventTime, ingestTime: eventTime, body };
}

function command(alertId: string, action: AlertCommandBody['action'], at: number, extra: Partial<AlertCommandBody> = {}): AlertCommandEnvelope {
  return alertCommandEnvelope({ action, alertId, by: 'dispatch-ana', at, ...extra }, { lineId: 'L07', deviceId: null });
}

describe('SqliteReadModel', () => {
  let dir: string;
  let db: Database.Database;
  let model: SqliteReadModel;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterstream-read-model-'));
    db = new Database(path.join(dir, 'meterstream.db'));
    db.pragma('journal_mode = WAL');
    model = new SqliteReadModel(db);
  });

  afterEach(() => {
    if (db.open) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('CVR hours', () => {
    const hour = (lineId: string, hourStart: number, minV: number) => ({
      id: `cvrh:${lineId}:${hourStart}`,
      lineId,
      hourStart,
      readings: 8,
      voltageSum: 8 * 120,
      registerKwh: 3.5,
      registerIntervals: 8,
      kwKwh: 3.4,
      kwIntervals: 8,
      meterMinima: [['m-000001', minV], ['m-000002', minV + 1]] as Array<[string, number]>,
    });

    it('keeps them idempotently by id, by line and hour, and never prunes them with the raw readings', async () => {
      const a = hour('L07', T0, 118.2);
      const b = hour('L07', T0 + 60 * MINUTE, 117.9);
      const c = hour('L08', T0, 119.1);
      await model.apply({ cvrHours: [b, c] });
      await model.apply({ cvrHours: [a, b] }); // a replayed batch changes nothing
      expect(await model.cvrHours('L07', { from: T0, to: T0 + 120 * MINUTE })).toEqual([a, b]);
      expect(await model.cvrHours('L07', { from: T0 + MINUTE, to: T0 + 120 * MINUTE })).toEqual([b]);
      expect(await model.cvrHours(null, { from: T0, to: T0 + 120 * MINUTE })).toEqual([a, b, c]);
      await model.pruneReadings(T0 + 1000 * MINUTE);
      expect(await model.cvrHours(null, { from: 0, to: T0 + 1000 * MINUTE })).toHaveLength(3);
      model.clearSync();
      expect(await model.cvrHours(null, { from: 0, to: T0 + 1000 * MINUTE })).toEqual([]);
    });
  });

  describe('schema', () => {
    it('creates rm_ tables once and migrates idempotently over existing data', async () => {
      await model.apply({ readings: [reading('L07', 'm-000001', T0, 119.6)] });
      model.migrate();
      const again = new SqliteReadModel(db);

      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
      expect(tables.map((t) => t.name)).toEqual(['rm_aggregates', 'rm_alerts', 'rm_cvr_hours', 'rm_dead_letters', 'rm_lines', 'rm_readings']);
      expect(await again.readings('L07', { from: T0, to: T0 + 1 }, 10)).toHaveLength(1);
    });

    it('adds the percentile and energy columns to a file from before them, keeping its windows (with nulls there)', async () => {
      const file = path.join(dir, 'old.db');
      const old = new Database(file);
      old.exec(`CREATE TABLE rm_aggregates (id TEXT PRIMARY KEY, line_id TEXT NOT NULL, device_id TEXT, window_start INTEGER NOT NULL,
        window_end INTEGER NOT NULL, count INTEGER NOT NULL, meters INTEGER NOT NULL, v_min REAL NOT NULL, v_max REAL NOT NULL,
        v_mean REAL NOT NULL, v_stddev REAL NOT NULL, current_mean REAL, current_max REAL, kw_mean REAL, kw_max REAL)`);
      old.prepare('INSERT INTO rm_aggregates VALUES (?, ?, NULL, ?, ?, 3, 1, 118, 122, 120, 1.5, NULL, NULL, NULL, NULL)').run(aggregateId('L07', T0, MINUTE), 'L07', T0, T0 + MINUTE);
      const migrated = new SqliteReadModel(old);
      migrated.migrate(); // idempotent
      await migrated.apply({ aggregates: [aggregate('L07', T0 + MINUTE)] });

      const windows = await migrated.aggregates('L07', { from: T0, to: T0 + 2 * MINUTE });
      expect(windows.map((w) => [w.voltage.p5, w.voltage.p95, w.energyKwh])).toEqual([
        [null, null, null],
        [118, 120.75, 1.25],
      ]);
      const columns = (old.pragma('table_info(rm_aggregates)') as { name: string }[]).map((c) => c.name);
      const fresh = (db.pragma('table_info(rm_aggregates)') as { name: string }[]).map((c) => c.name);
      expect(columns).toEqual(fresh);
      old.close();
    });

    it('looks readings and per-line windows up through their indexes, not a table scan', () => {
      const plan = (sql: string, ...params: unknown[]) =>
        (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ');
      expect(plan('SELECT * FROM rm_readings WHERE line_id = ? AND event_time >= ? AND event_time < ? ORDER BY event_time, device_id', 'L07', 0, 1)).toMatch(
        /SEARCH rm_readings USING INDEX rm_readings_line_time/,
      );
      expect(plan('SELECT * FROM rm_aggregates WHERE line_id = ? AND device_id IS ? AND window_start >= ? AND window_start < ?', 'L07', null, 0, 1)).toMatch(
        /SEARCH rm_aggregates USING INDEX rm_aggregates_line_window \(line_id=\? AND device_id=\? AND window_start>\? AND window_start<\?\)/,
      );
    });

    it('opens a file it creates, survives a reopen, and refuses a read-only file without tables', async () => {
      const file = path.join(dir, 'nested', 'other.db');
      const owned = SqliteReadModel.open(file);
      await owned.apply({ readings: [reading('L01', 'm-000001', T0, 120.1)] });
      await owned.close();

      const reopened = SqliteReadModel.open(file, { readonly: true });
      expect((await reopened.readings('L01', { from: T0, to: T0 + 1 }, 10)).map((r) => r.voltage)).toEqual([120.1]);
      await reopened.close();

      const emptyFile = path.join(dir, 'empty.db');
      new Database(emptyFile).close();
      expect(() => SqliteReadModel.open(emptyFile, { readonly: true })).toThrow(/read model tables are missing.*start the stream processor first/);
    });

    it('leaves a handle it was given open on close', async () => {
      await model.close();
      expect(db.open).toBe(true);
    });
  });

  describe('readings', () => {
    it('stores every field and returns a line range oldest first, ties by deviceId, up to the limit', async () => {
      await model.apply({
        readings: [
          reading('L07', 'm-000002', T0 + 1000, 118.2),
          reading('L07', 'm-000001', T0 + 1000, 119.6, { current: 8.2, powerFactor: 0.97, kw: 0.95, kwh: 10234.5, status: 'ok' }),
          reading('L07', 'm-000001', T0, 119.9),
          reading('L08', 'm-000100', T0 + 500, 121),
          reading('L07', 'm-000001', T0 + 2000, 119.1),
        ],
      });

      const rows = await model.readings('L07', { from: T0, to: T0 + 2000 }, 10);
      expect(rows.map((r) => [r.deviceId, r.eventTime])).toEqual([
        ['m-000001', T0],
        ['m-000001', T0 + 1000],
        ['m-000002', T0 + 1000],
      ]);
      expect(rows[1]).toEqual({
        id: `m-000001@${T0 + 1000}`,
        lineId: 'L07',
        deviceId: 'm-000001',
        eventTime: T0 + 1000,
        voltage: 119.6,
        current: 8.2,
        powerFactor: 0.97,
        kw: 0.95,
        kwh: 10234.5,
        status: 'ok',
      });
      expect(rows[0]).toMatchObject({ current: null, powerFactor: null, kw: null, kwh: null, status: null });
      expect((await model.readings('L07', { from: T0, to: T0 + 5000 }, 2)).map((r) => r.eventTime)).toEqual([T0, T0 + 1000]);
    });

    it('ignores a redelivered reading (same id) even with different values', async () => {
      await model.apply({ readings: [reading('L07', 'm-000001', T0, 119.6)] });
      await model.apply({ readings: [reading('L07', 'm-000001', T0, 99), reading('L07', 'm-000001', T0, 98)] });

      const rows = await model.readings('L07', { from: 0, to: T0 + 1 }, 10);
      expect(rows.map((r) => r.voltage)).toEqual([119.6]);
    });

    it('prunes readings older than the cutoff and keeps the line and its latest reading time', async () => {
      await model.apply({ readings: [0, 1, 2, 3].map((i) => reading('L07', 'm-000001', T0 + i * MINUTE, 119 + i)) });

      expect(await model.pruneReadings(T0 + 2 * MINUTE)).toBe(2);
      expect(await model.pruneReadings(T0 + 2 * MINUTE)).toBe(0);
      expect((await model.readings('L07', { from: 0, to: T0 + 10 * MINUTE }, 10)).map((r) => r.voltage)).toEqual([121, 122]);
      expect((await model.line('L07'))?.latestReadingTime).toBe(T0 + 3 * MINUTE);
    });
  });

  describe('aggregates', () => {
    it('returns per-line windows starting in [from, to) by window start, and a meter window only when asked', async () => {
      await model.apply({
        aggregates: [
          aggregate('L07', T0 + 2 * MINUTE),
          aggregate('L07', T0),
          aggregate('L07', T0 + MINUTE, { current: undefined, kw: undefined, energyKwh: undefined }),
          aggregate('L07', T0 + MINUTE, { deviceId: 'm-000001', meters: 1, count: 60 }),
          aggregate('L08', T0 + MINUTE),
        ],
      });

      const lineWindows = await model.aggregates('L07', { from: T0, to: T0 + 2 * MINUTE });
      expect(lineWindows.map((w) => w.windowStart)).toEqual([T0, T0 + MINUTE]);
      expect(lineWindows[0]).toEqual({
        id: aggregateId('L07', T0, MINUTE),
        lineId: 'L07',
        deviceId: null,
        windowStart: T0,
        windowEnd: T0 + MINUTE,
        count: 120,
        meters: 2,
        voltage: { min: 117.5, max: 121.25, mean: 119.4, stddev: 0.8, p5: 118, p95: 120.75 },
        current: { mean: 8.2, max: 11.5 },
        kw: { mean: 0.95, max: 1.4 },
        energyKwh: 1.25,
      });
      expect(lineWindows[1]).toMatchObject({ current: null, kw: null, energyKwh: null });

      const meterWindows = await model.aggregates('L07', { from: T0, to: T0 + 5 * MINUTE }, { deviceId: 'm-000001' });
      expect(meterWindows).toHaveLength(1);
      expect(meterWindows[0]).toMatchObject({ deviceId: 'm-000001', windowStart: T0 + MINUTE, meters: 1, count: 60 });
    });

    it('keeps the first copy of a window id', async () => {
      await model.apply({ aggregates: [aggregate('L07', T0)] });
      await model.apply({ aggregates: [aggregate('L07', T0, { count: 1 })] });
      expect((await model.aggregates('L07', { from: T0, to: T0 + 1 })).map((w) => w.count)).toEqual([120]);
    });
  });

  describe('alerts', () => {
    it('keeps one row per alert through raised → escalated → cleared, with raisedAt kept and updatedAt the event time', async () => {
      await model.apply({ alerts: [alert('a-1', 'raised', T0 + MINUTE)] });
      expect(await model.alerts({})).toEqual([
        {
          alertId: 'a-1',
          kind: 'undervoltage',
          state: 'raised',
          ruleState: 'raised',
          severity: 'warning',
          lineId: 'L07',
          deviceId: null,
          message: 'line L07 mean voltage 112.9 V below 114 V (raised)',
          evidence: { value: 112.9, threshold: 114, windowStart: T0, windowEnd: T0 + MINUTE },
          raisedAt: T0 + MINUTE,
          updatedAt: T0 + MINUTE,
          acknowledgedBy: null,
          acknowledgedAt: null,
          note: null,
          closedBy: null,
          closedAt: null,
          reason: null,
        },
      ]);

      await model.apply({ alerts: [alert('a-1', 'raised', T0 + 2 * MINUTE, { severity: 'critical', change: 'escalated', previousSeverity: 'warning' })] });
      expect(await model.alerts({})).toMatchObject([{ state: 'raised', severity: 'critical', updatedAt: T0 + 2 * MINUTE }]);
      await model.apply({ alerts: [alert('a-1', 'cleared', T0 + 5 * MINUTE, { severity: 'critical' })] });

      const [row, ...rest] = await model.alerts({});
      expect(rest).toEqual([]);
      expect(row).toMatchObject({ state: 'cleared', severity: 'critical', raisedAt: T0 + MINUTE, updatedAt: T0 + 5 * MINUTE });
    });

    it('never moves an alert backwards when older events are re-applied, in a batch or later', async () => {
      await model.apply({ alerts: [alert('a-1', 'cleared', T0 + 5 * MINUTE), alert('a-1', 'raised', T0 + MINUTE)] });
      await model.apply({ alerts: [alert('a-1', 'raised', T0 + 2 * MINUTE)] });
      expect(await model.alerts({})).toMatchObject([{ state: 'cleared', updatedAt: T0 + 5 * MINUTE, message: expect.stringContaining('(cleared)') }]);
    });

    it('takes a newer event of the same state (an escalation) but not an older one', async () => {
      await model.apply({ alerts: [alert('a-1', 'raised', T0 + 3 * MINUTE, { severity: 'critical' })] });
      await model.apply({ alerts: [alert('a-1', 'raised', T0 + MINUTE, { severity: 'warning' })] });
      expect(await model.alerts({})).toMatchObject([{ severity: 'critical', updatedAt: T0 + 3 * MINUTE }]);
    });

    it('applies operators’ commands in fields of their own, which alert events leave alone', async () => {
      await model.apply({ alerts: [alert('a-1', 'raised', T0 + MINUTE)], alertCommands: [command('a-1', 'acknowledge', T0 + 2 * MINUTE, { note: 'crew on the way' })] });
      expect(await model.alerts({})).toMatchObject([
        { state: 'acknowledged', ruleState: 'raised', acknowledgedBy: 'dispatch-ana', acknowledgedAt: T0 + 2 * MINUTE, note: 'crew on the way', message: 'line L07 mean voltage 112.9 V below 114 V (raised)' },
      ]);
      // A second acknowledgement changes nothing; an escalation keeps the acknowledgement.
      await model.apply({ alertCommands: [command('a-1', 'acknowledge', T0 + 3 * MINUTE, { by: 'someone-else' })] });
      await model.apply({ alerts: [alert('a-1', 'raised', T0 + 4 * MINUTE, { severity: 'critical', change: 'escalated', previousSeverity: 'warning' })] });
      expect(await model.alerts({})).toMatchObject([{ state: 'acknowledged', severity: 'critical', acknowledgedBy: 'dispatch-ana' }]);

      await model.apply({ alertCommands: [command('a-1', 'close', T0 + 5 * MINUTE, { by: 'dispatch-bo', reason: 'line stopped reporting' })] });
      expect(await model.alerts({ state: 'open' })).toEqual([]);
      expect(await model.alerts({ state: 'closed' })).toMatchObject([{ alertId: 'a-1', state: 'closed', closedBy: 'dispatch-bo', closedAt: T0 + 5 * MINUTE, reason: 'line stopped reporting' }]);
      // Closed wins over what the rule does next, and a second close keeps the first.
      await model.apply({ alerts: [alert('a-1', 'cleared', T0 + 6 * MINUTE)], alertCommands: [command('a-1', 'close', T0 + 7 * MINUTE, { reason: 'again' })] });
      expect(await model.alerts({})).toMatchObject([{ state: 'closed', ruleState: 'cleared', reason: 'line stopped reporting' }]);
      // Reopened: the rule's state and the acknowledgement show again.
      await model.apply({ alertCommands: [command('a-1', 'reopen', T0 + 8 * MINUTE)] });
      expect(await model.alerts({})).toMatchObject([{ state: 'cleared', closedBy: null, closedAt: null, reason: null, acknowledgedBy: 'dispatch-ana' }]);
      expect((await model.line('L07'))?.openAlerts).toEqual([]);
    });

    it('ignores a command about an alert it does not hold', async () => {
      await model.apply({ alertCommands: [command('nope', 'close', T0, { reason: 'x' })] });
      expect(await model.alerts({})).toEqual([]);
      expect(await model.lines()).toEqual([]);
    });

    it('filters by state (open = raised or acknowledged) and line, newest raised first, with a limit', async () => {
      await model.apply({
        alerts: [
          alert('a-old', 'raised', T0 + MINUTE, { raisedAt: T0 + MINUTE }),
          alert('a-ack', 'raised', T0 + 3 * MINUTE, { raisedAt: T0 + 2 * MINUTE }),
          alert('a-done', 'cleared', T0 + 9 * MINUTE, { raisedAt: T0 + 4 * MINUTE }),
          alert('a-other', 'raised', T0 + 6 * MINUTE, { raisedAt: T0 + 6 * MINUTE, lineId: 'L08', deviceId: 'm-000200' }),
          alert('a-closed', 'raised', T0 + 7 * MINUTE, { raisedAt: T0 + 5 * MINUTE }),
        ],
        alertCommands: [command('a-ack', 'acknowledge', T0 + 4 * MINUTE), command('a-closed', 'close', T0 + 8 * MINUTE, { reason: 'line stopped reporting' })],
      });
      const ids = async (q: Parameters<SqliteReadModel['alerts']>[0]) => (await model.alerts(q)).map((a) => a.alertId);

      expect(await ids({})).toEqual(['a-other', 'a-closed', 'a-done', 'a-ack', 'a-old']);
      expect(await ids({ state: 'open' })).toEqual(['a-other', 'a-ack', 'a-old']);
      expect(await ids({ state: 'cleared' })).toEqual(['a-done']);
      expect(await ids({ state: 'closed' })).toEqual(['a-closed']);
      expect(await ids({ state: 'acknowledged', lineId: 'L07' })).toEqual(['a-ack']);
      expect(await ids({ lineId: 'L08' })).toEqual(['a-other']);
      expect(await ids({ state: 'open', limit: 2 })).toEqual(['a-other', 'a-ack']);
      expect((await model.alerts({ lineId: 'L08' }))[0].deviceId).toBe('m-000200');
    });

    it('migrates a read model from before alert commands: an alert acknowledged the old way stays acknowledged', async () => {
      const file = path.join(dir, 'old.db');
      const old = new Database(file);
      old.exec(`CREATE TABLE rm_alerts (alert_id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL, state_rank INTEGER NOT NULL, severity TEXT NOT NULL,
        line_id TEXT NOT NULL, device_id TEXT, message TEXT NOT NULL, evidence TEXT NOT NULL, raised_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)`);
      const insert = old.prepare('INSERT INTO rm_alerts VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)');
      insert.run('a-ack', 'voltage-low', 'acknowledged', 1, 'warning', 'L07', 'm', '{}', T0, T0 + MINUTE);
      insert.run('a-done', 'voltage-low', 'cleared', 2, 'warning', 'L07', 'm', '{}', T0, T0 + 2 * MINUTE);
      const migrated = new SqliteReadModel(old);
      expect((await migrated.alerts({})).map((a) => [a.alertId, a.state, a.ruleState, a.acknowledgedAt])).toEqual([
        ['a-ack', 'acknowledged', 'raised', T0 + MINUTE],
        ['a-done', 'cleared', 'cleared', null],
      ]);
      // A later clear of the old acknowledged alert moves it forward as usual.
      await migrated.apply({ alerts: [alert('a-ack', 'cleared', T0 + 3 * MINUTE)] });
      expect((await migrated.alerts({ state: 'cleared' })).map((a) => a.alertId)).toEqual(['a-ack', 'a-done']);
      old.close();
    });
  });

  describe('dead letters', () => {
    it('stores reason, errors and raw bytes, newest first, once per id', async () => {
      const older = deadLetter(readingTopic('L07'), Buffer.from('{"deviceId":"m-1"}'), [{ field: 'voltage', message: 'is required (volts, a number)' }], T0, 'm-1');
      const newer = deadLetter('sensors/garbage', Buffer.from([0xff, 0xfe, 0x00]), [{ field: '(topic)', message: 'not a readings topic' }], T0 + 1000);
      await model.apply({ deadLetters: [older, newer] });
      await model.apply({ deadLetters: [older] });

      const rows = await model.deadLetters(10);
      expect(rows.map((r) => r.id)).toEqual([newer.id, older.id]);
      expect(rows[1]).toEqual({
        id: older.id,
        lineId: 'L07',
        deviceId: 'm-1',
        topic: 'line/L07/SmartMeterData',
        reason: 'voltage: is required (volts, a number)',
        errors: [{ field: 'voltage', message: 'is required (volts, a number)' }],
        payload: Buffer.from('{"deviceId":"m-1"}').toString('base64'),
        receivedAt: T0,
      });
      expect(Buffer.from(rows[0].payload, 'base64')).toEqual(Buffer.from([0xff, 0xfe, 0x00]));
      expect(await model.deadLetters(1)).toHaveLength(1);
    });

    it('pages through thousands by position, each once and in order, also across letters received in the same millisecond', async () => {
      // 3,500 letters, seven per millisecond, applied in an order unrelated to the reading order.
      const letters = Array.from({ length: 3500 }, (_, i) =>
        deadLetter(readingTopic(`L${i % 5}`), Buffer.from(`bad payload ${i}`), [{ field: '(payload)', message: 'not valid JSON' }], T0 + Math.floor(i / 7)),
      );
      for (let k = 0; k < 7; k++) await model.apply({ deadLetters: letters.filter((_, j) => j % 7 === k) });
      const expected = [...letters]
        .sort((a, b) => b.body.receivedAt - a.body.receivedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((l) => l.id);

      const pages: string[][] = [];
      let page = await model.deadLetters(1000);
      // Bounded, so a model that ignored the position fails the assertions instead of looping.
      while (page.length > 0 && pages.length < 10) {
        pages.push(page.map((r) => r.id));
        const last = page[page.length - 1];
        page = await model.deadLetters(1000, { receivedAt: last.receivedAt, id: last.id });
      }

      expect(pages.map((p) => p.length)).toEqual([1000, 1000, 1000, 500]);
      expect(pages.flat()).toEqual(expected);
      expect(new Set(pages.flat()).size).toBe(3500);
      // 1000 is not a multiple of 7: the first page ends inside a millisecond the second one finishes.
      const byId = new Map(letters.map((l) => [l.id, l.body.receivedAt]));
      expect(byId.get(pages[0][999])).toBe(byId.get(pages[1][0]));
    });

    it('continues after a position even when newer letters arrived in between or the position no longer exists', async () => {
      const at = (i: number, time: number) => deadLetter('sensors/garbage', Buffer.from(`x${i}`), [{ field: '(topic)', message: 'not a readings topic' }], time);
      await model.apply({ deadLetters: [at(1, T0 + 3), at(2, T0 + 2), at(3, T0 + 1)] });
      const [first] = await model.deadLetters(1);
      await model.apply({ deadLetters: [at(4, T0 + 9)] });
      expect((await model.deadLetters(10, { receivedAt: first.receivedAt, id: first.id })).map((r) => r.receivedAt)).toEqual([T0 + 2, T0 + 1]);
      // A position between two letters (its letter gone, or never stored): the older ones follow.
      expect((await model.deadLetters(10, { receivedAt: T0 + 2, id: '~' })).map((r) => r.receivedAt)).toEqual([T0 + 1]);
      expect(await model.deadLetters(10, { receivedAt: T0, id: '' })).toEqual([]);
    });
  });

  describe('line counters', () => {
    it('keeps the highest totals, so re-applying older ones changes nothing', async () => {
      await model.apply({ lineCounters: [{ lineId: 'L05', lateReadings: 3, duplicateReadings: 1 }] });
      await model.apply({ lineCounters: [{ lineId: 'L05', lateReadings: 2, duplicateReadings: 4 }] });
      expect(await model.line('L05')).toMatchObject({ lineId: 'L05', lateReadings: 3, duplicateReadings: 4, latestReadingTime: null, deliveryDelay: null });
    });

    it('keeps the delivery delay measured latest, not the highest: re-applying older figures, in any order, changes nothing', async () => {
      const early = { ewmaMs: 180_000, maxMs: 240_000, measuredAt: T0 + 10 * MINUTE };
      const later = { ewmaMs: 2_000, maxMs: 240_000, measuredAt: T0 + 40 * MINUTE }; // the collector caught up
      await model.apply({ lineCounters: [{ lineId: 'L05', lateReadings: 0, duplicateReadings: 0, deliveryDelay: early }] });
      expect((await model.line('L05'))?.deliveryDelay).toEqual(early);
      await model.apply({ lineCounters: [{ lineId: 'L05', lateReadings: 1, duplicateReadings: 0, deliveryDelay: later }] });
      // A replayed older batch, and counters without a measurement: the later figure stays.
      await model.apply({ lineCounters: [{ lineId: 'L05', lateReadings: 0, duplicateReadings: 0, deliveryDelay: early }, { lineId: 'L05', lateReadings: 1, duplicateReadings: 2 }] });
      expect(await model.line('L05')).toMatchObject({ lateReadings: 1, duplicateReadings: 2, deliveryDelay: later });

      // The same end state whatever the order the figures arrive in (ties by measuredAt: the higher figures).
      const tie = { ewmaMs: 3_000, maxMs: 240_000, measuredAt: later.measuredAt };
      const orders = [[early, later, tie], [tie, later, early], [later, tie, early]];
      for (const [i, order] of orders.entries()) {
        await model.apply({ lineCounters: order.map((deliveryDelay) => ({ lineId: `O${i}`, lateReadings: 0, duplicateReadings: 0, deliveryDelay })) });
      }
      expect((await model.lines()).filter((l) => l.lineId.startsWith('O')).map((l) => l.deliveryDelay)).toEqual([tie, tie, tie]);
    });

    it('adds the delivery-delay columns to a file from before them, keeping its lines (with no delay)', async () => {
      const old = new Database(path.join(dir, 'old-lines.db'));
      old.exec(`CREATE TABLE rm_lines (line_id TEXT PRIMARY KEY, latest_reading_time INTEGER, late_readings INTEGER NOT NULL DEFAULT 0,
        duplicate_readings INTEGER NOT NULL DEFAULT 0)`);
      old.prepare('INSERT INTO rm_lines VALUES (?, ?, 2, 1)').run('L07', T0);
      const migrated = new SqliteReadModel(old);
      expect(await migrated.line('L07')).toMatchObject({ latestReadingTime: T0, lateReadings: 2, duplicateReadings: 1, deliveryDelay: null });
      const delay = { ewmaMs: 500, maxMs: 900, measuredAt: T0 + MINUTE };
      await migrated.apply({ lineCounters: [{ lineId: 'L07', lateReadings: 2, duplicateReadings: 1, deliveryDelay: delay }] });
      expect((await migrated.line('L07'))?.deliveryDelay).toEqual(delay);
      const columns = (old.pragma('table_info(rm_lines)') as { name: string }[]).map((c) => c.name);
      expect(columns).toEqual((db.pragma('table_info(rm_lines)') as { name: string }[]).map((c) => c.name));
      old.close();
    });
  });

  describe('lines', () => {
    it('summarises every line: latest reading time, latest per-line window and open alerts', async () => {
      await model.apply({
        readings: [reading('L07', 'm-000001', T0 + 30_000, 119.6), reading('L07', 'm-000002', T0 + 10_000, 118)],
        aggregates: [aggregate('L07', T0), aggregate('L07', T0 + MINUTE), aggregate('L07', T0 + 2 * MINUTE, { deviceId: 'm-000001' }), aggregate('L09', T0)],
        alerts: [alert('a-open', 'raised', T0 + MINUTE), alert('a-closed', 'cleared', T0 + MINUTE, { raisedAt: T0 })],
        deadLetters: [deadLetter(readingTopic('L99'), Buffer.from('x'), [{ field: '(payload)', message: 'not valid JSON' }], T0)],
      });
      // An older reading arriving later does not move the latest reading time back.
      await model.apply({ readings: [reading('L07', 'm-000003', T0, 117)] });

      const lines = await model.lines();
      expect(lines.map((l) => l.lineId)).toEqual(['L07', 'L09']);
      expect(lines[0].latestReadingTime).toBe(T0 + 30_000);
      expect(lines[0].latestWindow).toMatchObject({ deviceId: null, windowStart: T0 + MINUTE });
      expect(lines[0].openAlerts.map((a) => a.alertId)).toEqual(['a-open']);
      expect(lines[1]).toEqual({
        lineId: 'L09',
        latestReadingTime: null,
        latestWindow: expect.objectContaining({ windowStart: T0 }),
        openAlerts: [],
        lateReadings: 0,
        duplicateReadings: 0,
        deliveryDelay: null,
      });

      expect(await model.line('L07')).toEqual(lines[0]);
      expect(await model.line('L99')).toBeNull();
    });
  });

  describe('inside a caller transaction', () => {
    it('commits or rolls back with the caller, so outputs and checkpoints stay atomic', () => {
      db.exec('CREATE TABLE checkpoint (position TEXT)');
      const commit = db.transaction((fail: boolean) => {
        model.applySync({ readings: [reading('L07', 'm-000001', T0, 119.6)], alerts: [alert('a-1', 'raised', T0)] });
        db.prepare('INSERT INTO checkpoint VALUES (?)').run('42');
        if (fail) throw new Error('crash before commit');
      });

      expect(() => commit(true)).toThrow('crash before commit');
      expect(db.prepare('SELECT count(*) AS n FROM rm_readings').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT count(*) AS n FROM rm_alerts').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT count(*) AS n FROM rm_lines').get()).toEqual({ n: 0 });

      commit(false);
      expect(db.prepare('SELECT count(*) AS n FROM rm_readings').get()).toEqual({ n: 1 });
      expect(db.prepare('SELECT count(*) AS n FROM checkpoint').get()).toEqual({ n: 1 });
    });

    it('shows another connection (the API reading the same file) a batch only once it commits', async () => {
      const reader = SqliteReadModel.open(path.join(dir, 'meterstream.db'), { readonly: true });
      const visible = () => reader.readings('L07', { from: T0, to: T0 + 1 }, 10);
      db.exec('BEGIN');
      model.applySync({ readings: [reading('L07', 'm-000001', T0, 119.6)] });
      expect(await visible()).toEqual([]);
      db.exec('COMMIT');
      expect((await visible()).map((r) => r.voltage)).toEqual([119.6]);
      await reader.close();
    });

    it('prunes without a transaction of its own', () => {
      model.applySync({ readings: [reading('L07', 'm-000001', T0, 119.6)] });
      db.transaction(() => {
        expect(model.pruneReadingsSync(T0 + 1)).toBe(1);
      })();
      expect(db.prepare('SELECT count(*) AS n FROM rm_readings').get()).toEqual({ n: 0 });
    });
  });
});
