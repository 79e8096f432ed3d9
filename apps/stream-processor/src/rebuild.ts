import { STREAMS } from '@meterstream/contracts';
import type { Config } from '@meterstream/config';
import { SqliteReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, openEmbeddedDatabase } from '@meterstream/stream';
import { createProcessorRuntime } from './processor.module';

const DERIVED_STREAMS = [STREAMS.aggregates, STREAMS.alerts, STREAMS.lateReadings];

/**
 * Replay: throws away everything derived — the read model, the processor's checkpoint and the
 * aggregates, alerts and late-readings streams — and recomputes it from `readings` and
 * `dead-letters`. Deterministic processing makes the result identical to what the processor had
 * built live (same input, same order). Stop the stream processor first.
 */
export async function rebuildDerivedState(config: Config, progress: (line: string) => void): Promise<{ records: number; seconds: number }> {
  const db = openEmbeddedDatabase(config.databaseFile, { synchronous: 'normal' });
  try {
    const log = new EmbeddedStreamLog(db, { partitions: config.STREAM_PARTITIONS });
    const total = log.countSync(STREAMS.readings) + log.countSync(STREAMS.deadLetters);
    db.transaction(() => {
      for (const stream of DERIVED_STREAMS) log.truncateSync(stream);
      new SqliteReadModel(db).clearSync();
      db.prepare('DELETE FROM processor_checkpoints').run();
    })();
    progress(`replay: cleared the read model, the checkpoint and ${DERIVED_STREAMS.join(', ')}; reprocessing ${total.toLocaleString('en')} records`);

    const runtime = createProcessorRuntime(config, db);
    const started = Date.now();
    let done = 0;
    let reported = started;
    for (;;) {
      const n = runtime.processBatch();
      if (n === 0) break;
      done += n;
      if (Date.now() - reported >= 1000) {
        reported = Date.now();
        progress(`replay: ${done.toLocaleString('en')} / ${total.toLocaleString('en')} records (${Math.round((100 * done) / Math.max(total, 1))} %)`);
      }
    }
    const seconds = (Date.now() - started) / 1000;
    progress(`replay: done, ${done.toLocaleString('en')} records in ${seconds.toFixed(1)} s`);
    return { records: done, seconds };
  } finally {
    db.close();
  }
}
