import { alertCommandEnvelope, encodeEnvelope, STREAMS, type AlertCommandBody } from '@meterstream/contracts';
import { loadConfig } from '@meterstream/config';
import { SqliteReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, openEmbeddedDatabase } from '@meterstream/stream';
import { makeTempDir, readingEnvelope } from '@meterstream/test-harness';
import { rebuildDerivedState } from './rebuild';
import { createEmbeddedStreamProcessor } from './runtime/create-stream-processor';

const T0 = Date.parse('2026-11-29T00:00:00Z');

describe('a data directory of an older meterstream (one checkpoint for all partitions)', () => {
  it('is refused with the way out, and replay upgrades it', async () => {
    const temp = makeTempDir();
    try {
      const config = loadConfig({ DATA_DIR: temp.dir });
      const log = EmbeddedStreamLog.open(config.databaseFile, { partitions: config.STREAM_PARTITIONS });
      const readings = Array.from({ length: 40 }, (_, i) => readingEnvelope('L1', 'm1', T0 + i * 15_000, { voltage: 120 }));
      await log.append(STREAMS.readings, readings.map((r) => ({ key: r.lineId, value: encodeEnvelope(r) })));
      // What the embedded runtime of earlier versions left behind.
      log.db.exec('CREATE TABLE processor_checkpoints (name TEXT PRIMARY KEY, checkpoint TEXT NOT NULL, updated_at INTEGER NOT NULL)');
      log.db.prepare('INSERT INTO processor_checkpoints VALUES (?, ?, ?)').run('stream-processor', '{"positions":{},"topology":null}', T0);
      await log.close();

      const db = openEmbeddedDatabase(config.databaseFile);
      expect(() => createEmbeddedStreamProcessor(config, db)).toThrow(/older meterstream.*run `npm run replay`/);
      db.close();

      const { records } = await rebuildDerivedState(config, () => undefined);
      expect(records).toBe(40);
      const after = openEmbeddedDatabase(config.databaseFile);
      expect(() => createEmbeddedStreamProcessor(config, after)).not.toThrow();
      after.close();
    } finally {
      temp.cleanup();
    }
  });
});

describe('operators\u2019 alert commands', () => {
  /** Three meters of L1 every 15 s: in range, then a dip below Range A that has not ended when the input does. */
  function readings() {
    const out = [];
    for (let t = T0; t < T0 + 30 * 60_000; t += 15_000) {
      const voltage = t < T0 + 10 * 60_000 ? 120 : 111.5;
      for (const m of ['m1', 'm2', 'm3']) out.push(readingEnvelope('L1', m, t, { voltage }));
    }
    return out;
  }

  it('are applied by the processor once its readings are processed, and applied again by a replay', async () => {
    const temp = makeTempDir();
    try {
      // No window fires on the wall clock: the live run and the replay see the same input the same way.
      const config = loadConfig({ DATA_DIR: temp.dir, IDLE_TIMEOUT_MS: String(24 * 3_600_000), ALERT_CHANNELS: '' });
      const log = EmbeddedStreamLog.open(config.databaseFile, { partitions: config.STREAM_PARTITIONS });
      await log.append(STREAMS.readings, readings().map((r) => ({ key: r.lineId, value: encodeEnvelope(r) })));
      await log.close();

      const db = openEmbeddedDatabase(config.databaseFile);
      const processor = createEmbeddedStreamProcessor(config, db);
      await processor.join();
      while ((await processor.poll()) > 0);
      const model = new SqliteReadModel(db);
      const [alert] = await model.alerts({ state: 'open' });
      expect(alert).toMatchObject({ lineId: 'L1', kind: 'voltage-low', state: 'raised' });

      // What the API appends; the processor applies it on its next poll.
      const commandLog = new EmbeddedStreamLog(db, { partitions: config.STREAM_PARTITIONS });
      const command = (body: Omit<AlertCommandBody, 'alertId'>) => ({ key: 'L1', value: encodeEnvelope(alertCommandEnvelope({ ...body, alertId: alert.alertId }, { lineId: 'L1', deviceId: null })) });
      await commandLog.append(STREAMS.alertCommands, [command({ action: 'acknowledge', by: 'dispatch-ana', at: T0 + 3_600_000, note: 'crew on the way' })]);
      await commandLog.append(STREAMS.alertCommands, [command({ action: 'close', by: 'dispatch-bo', at: T0 + 3_700_000, reason: 'line stopped reporting' })]);
      expect(await processor.poll()).toBe(2);
      expect(processor.counters.alertCommands).toBe(2);
      const decided = (await model.alerts({})).find((a) => a.alertId === alert.alertId);
      expect(decided).toMatchObject({
        state: 'closed',
        ruleState: 'raised',
        acknowledgedBy: 'dispatch-ana',
        acknowledgedAt: T0 + 3_600_000,
        note: 'crew on the way',
        closedBy: 'dispatch-bo',
        closedAt: T0 + 3_700_000,
        reason: 'line stopped reporting',
      });
      // Checkpointed with the readings: a restarted processor does not apply them again.
      await processor.stop();
      const restarted = createEmbeddedStreamProcessor(config, db);
      await restarted.join();
      expect(await restarted.poll()).toBe(0);
      await restarted.stop();
      const live = await model.alerts({});
      db.close();

      const lines: string[] = [];
      const { alertCommands } = await rebuildDerivedState(config, (line) => lines.push(line));
      expect(alertCommands).toBe(2);
      expect(lines.join('\n')).toContain("2 of them operators' alert commands, kept and applied again");
      const after = SqliteReadModel.open(config.databaseFile);
      expect(await after.alerts({})).toEqual(live);
      await after.close();
    } finally {
      temp.cleanup();
    }
  });
});
