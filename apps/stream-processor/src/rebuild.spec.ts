import { encodeEnvelope, STREAMS } from '@meterstream/contracts';
import { loadConfig } from '@meterstream/config';
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
