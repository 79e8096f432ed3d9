import * as fs from 'node:fs';
import { STREAMS } from '@meterstream/contracts';
import type { Config } from '@meterstream/config';
import { SqliteReadModel } from '@meterstream/read-model';
import { EmbeddedGroupLease, EmbeddedStreamLog, openEmbeddedDatabase, SqliteCheckpointStore } from '@meterstream/stream';
import { createEmbeddedStreamProcessor, PROCESSOR_GROUP, SINGLE_CHECKPOINT_TABLE } from './runtime/create-stream-processor';

const DERIVED_STREAMS = [STREAMS.aggregates, STREAMS.alerts, STREAMS.lateReadings];

/**
 * Replay: throws away everything derived — the read model, the processor's checkpoints and the
 * aggregates, alerts and late-readings streams — and recomputes it from the sources, `readings`
 * and `dead-letters` (what devices said) and `alert-commands` (what operators decided, kept
 * untouched), with the processor's own runtime. Deterministic processing makes the result
 * identical to what the processor had built live (same input, same order): alert ids come from
 * the input, so the alerts rebuilt are the ones the commands name, and the runtime applies each
 * partition's commands only once its readings are reprocessed, so an acknowledged or closed alert
 * is so again. Stop the stream processor first.
 */
export async function rebuildDerivedState(config: Config, progress: (line: string) => void): Promise<{ records: number; alertCommands: number; seconds: number }> {
  // Opening a database that is not there would create an empty one: say so instead, create nothing.
  if (!fs.existsSync(config.databaseFile)) {
    throw new Error(`there is no data to replay in ${config.dataDir}: ${config.databaseFile} does not exist (is DATA_DIR right?)`);
  }
  const db = openEmbeddedDatabase(config.databaseFile, { synchronous: 'normal' });
  // The processor's group lease, before anything is cleared: refused (naming the process) while a
  // stream processor runs on this data, and no processor can start while the replay runs.
  let lease: { release(): void } | undefined;
  try {
    lease = new EmbeddedGroupLease(db).acquire(PROCESSOR_GROUP);
    const log = new EmbeddedStreamLog(db, { partitions: config.STREAM_PARTITIONS });
    const commands = log.countSync(STREAMS.alertCommands);
    const total = log.countSync(STREAMS.readings) + log.countSync(STREAMS.deadLetters) + commands;
    db.transaction(() => {
      for (const stream of DERIVED_STREAMS) log.truncateSync(stream);
      new SqliteReadModel(db).clearSync();
      new SqliteCheckpointStore(db).deleteGroupSync(PROCESSOR_GROUP);
      // The layout of older versions (one checkpoint for all partitions): replay is its upgrade path.
      db.exec(`DROP TABLE IF EXISTS ${SINGLE_CHECKPOINT_TABLE}`);
    })();
    progress(
      `replay: cleared the read model, the checkpoints and ${DERIVED_STREAMS.join(', ')}; reprocessing ${total.toLocaleString('en')} records ` +
        `(${commands.toLocaleString('en')} of them operators' alert commands, kept and applied again)`,
    );

    const processor = createEmbeddedStreamProcessor(config, db);
    await processor.join();
    const started = Date.now();
    let done = 0;
    let reported = started;
    const drain = async () => {
      for (;;) {
        const n = await processor.poll();
        if (n === 0) return;
        done += n;
        if (Date.now() - reported >= 1000) {
          reported = Date.now();
          progress(`replay: ${done.toLocaleString('en')} / ${total.toLocaleString('en')} records (${Math.round((100 * done) / Math.max(total, 1))} %)`);
        }
      }
    };
    // Every alert first (the last, empty poll fires the idle lines' last windows), then the
    // operators' commands about them, in the order they were accepted.
    processor.holdAlertCommands(true);
    await drain();
    processor.holdAlertCommands(false);
    await drain();
    await processor.stop();
    const seconds = (Date.now() - started) / 1000;
    progress(`replay: done, ${done.toLocaleString('en')} records in ${seconds.toFixed(1)} s (${processor.counters.alertCommands.toLocaleString('en')} alert commands applied)`);
    return { records: done, alertCommands: processor.counters.alertCommands, seconds };
  } finally {
    lease?.release();
    db.close();
  }
}
