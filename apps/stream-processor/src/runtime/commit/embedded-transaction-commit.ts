import type Database from 'better-sqlite3';
import { encodeCheckpoint, type PartitionCheckpoint } from '@meterstream/processing';
import type { SqliteReadModel } from '@meterstream/read-model';
import type { EmbeddedStreamLog, SqliteCheckpointStore } from '@meterstream/stream';
import type { PartitionTask } from '../partition-task';
import type { CommitStrategy, PollEffects } from './commit-strategy';
import { outputRecords } from './output-records';

/** The embedded log, read model and checkpoint store: all on one SQLite database handle. */
export interface EmbeddedCommitPorts {
  db: Database.Database;
  log: EmbeddedStreamLog;
  readModel: SqliteReadModel;
  checkpoints: SqliteCheckpointStore;
}

/**
 * The commit strategy of the embedded default: per poll, ONE SQLite transaction appends the
 * outputs (aggregates, alerts, late readings), prunes and applies the read model and saves the
 * checkpoint of every partition that changed. A crash at any point leaves either all of a poll's
 * effects or none, so a restart resumes from the checkpoint with nothing emitted twice and
 * nothing missing — exactly once end to end, which the flush-then-checkpoint strategy of the
 * distributed engines cannot offer.
 *
 * It also runs the log's own retention (by append time, like Kafka's retention.ms), at most once
 * a minute: the embedded log has no broker to do it.
 */
export class EmbeddedTransactionCommit implements CommitStrategy {
  private readonly transaction: (effects: PollEffects | null, tasks: readonly PartitionTask[]) => [PartitionTask, PartitionCheckpoint][];
  private lastLogPruneAt = -Infinity;

  constructor(
    private readonly ports: EmbeddedCommitPorts,
    private readonly group: string,
    private readonly logRetentionMs: number,
  ) {
    this.transaction = ports.db.transaction((effects: PollEffects | null, tasks: readonly PartitionTask[]) => this.commitSync(effects, tasks));
  }

  async commit(effects: PollEffects, tasks: readonly PartitionTask[]): Promise<void> {
    this.markSaved(this.transaction(effects, tasks));
  }

  async checkpoint(tasks: readonly PartitionTask[]): Promise<number> {
    const saved = this.transaction(null, tasks);
    this.markSaved(saved);
    return saved.length;
  }

  maintain(now: number): void {
    if (now - this.lastLogPruneAt < 60_000) return;
    this.lastLogPruneAt = now;
    this.ports.log.pruneSync(now - this.logRetentionMs);
  }

  private commitSync(effects: PollEffects | null, tasks: readonly PartitionTask[]): [PartitionTask, PartitionCheckpoint][] {
    const { log, readModel, checkpoints } = this.ports;
    if (effects !== null) {
      for (const [stream, records] of outputRecords(effects.output)) log.appendSync(stream, records, effects.now);
      // Retention of raw readings runs on stream time, in every commit: the read model after any
      // run, replay or crash-and-resume of the same input is the same.
      readModel.pruneReadingsSync(effects.retentionCutoff);
      readModel.applySync({
        readings: effects.accepted.filter((r) => r.eventTime >= effects.retentionCutoff),
        aggregates: effects.output.aggregates,
        alerts: effects.output.alerts,
        alertCommands: effects.alertCommands,
        cvrHours: effects.output.cvrHours,
        deadLetters: effects.deadLetters,
        lineCounters: effects.lineCounters,
      });
    }
    const saved: [PartitionTask, PartitionCheckpoint][] = [];
    for (const task of tasks) {
      if (!task.dirty) continue;
      const checkpoint = task.checkpoint();
      checkpoints.saveSync(this.group, task.partition, encodeCheckpoint(checkpoint));
      saved.push([task, checkpoint]);
    }
    return saved;
  }

  /** Only once the transaction committed: until then the tasks' last saved state is the old one. */
  private markSaved(saved: readonly [PartitionTask, PartitionCheckpoint][]): void {
    for (const [task, checkpoint] of saved) task.markSaved(checkpoint);
  }
}
