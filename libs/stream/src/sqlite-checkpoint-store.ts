import type Database from 'better-sqlite3';
import type { PartitionCheckpointStore } from './checkpoint-store';
import { openEmbeddedDatabase, type EmbeddedDatabaseOptions } from './embedded';

/**
 * The partition checkpoint store on a SQLite file: one row per (group, partition), the newest
 * save replacing the previous one. WAL mode and a busy timeout let several processes on one host
 * share the file (processors of one group on one machine, or a processor and its tooling); every
 * save is its own transaction, so a reader sees one whole checkpoint or the previous one.
 *
 * It is not a store for instances on different hosts: SQLite over a network filesystem does not
 * lock reliably. On ECS use the Kafka compacted-topic store instead.
 *
 * Durability: `synchronous` defaults to `normal`, which survives a process crash but may lose the
 * newest saves on a power cut. That is safe for a checkpoint: losing one only means resuming from
 * an older (still consistent) one and recomputing the same outputs again.
 */
export class SqliteCheckpointStore implements PartitionCheckpointStore {
  private readonly select: Database.Statement;
  private readonly upsert: Database.Statement;
  private readonly selectGroup: Database.Statement;
  private readonly deleteGroup: Database.Statement;
  /** Set by open(): this store owns the handle and closes it in close(). */
  private ownsDatabase = false;

  /** Builds the store over an open handle (creating its table when missing); close() leaves the handle open. */
  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number = Date.now,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS partition_checkpoints (
      group_id TEXT NOT NULL,
      partition TEXT NOT NULL,
      checkpoint TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (group_id, partition)
    )`);
    this.select = db.prepare('SELECT checkpoint FROM partition_checkpoints WHERE group_id = ? AND partition = ?').pluck();
    this.upsert = db.prepare(
      'INSERT INTO partition_checkpoints (group_id, partition, checkpoint, updated_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (group_id, partition) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at',
    );
    this.selectGroup = db.prepare('SELECT partition, checkpoint FROM partition_checkpoints WHERE group_id = ?');
    this.deleteGroup = db.prepare('DELETE FROM partition_checkpoints WHERE group_id = ?');
  }

  /** Opens (creating when missing) a checkpoint database file in WAL mode; the store closes it. */
  static open(file: string, options: Pick<EmbeddedDatabaseOptions, 'synchronous'> = {}): SqliteCheckpointStore {
    const db = openEmbeddedDatabase(file, { synchronous: options.synchronous ?? 'normal' });
    try {
      const store = new SqliteCheckpointStore(db);
      store.ownsDatabase = true;
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  async load(group: string, partition: string): Promise<string | null> {
    return (this.select.get(group, partition) as string | undefined) ?? null;
  }

  async save(group: string, partition: string, checkpoint: string): Promise<void> {
    // Autocommit: the statement is its own transaction, durable (per `synchronous`) when run() returns.
    this.saveSync(group, partition, checkpoint);
  }

  /** Saves inside the caller's transaction (the embedded processor commits outputs, read model and checkpoints together). */
  saveSync(group: string, partition: string, checkpoint: string): void {
    this.upsert.run(group, partition, checkpoint, this.now());
  }

  /** Every checkpoint of a group, by partition: for tooling that looks at the whole group (retrain, tests). */
  loadAllSync(group: string): Map<string, string> {
    const rows = this.selectGroup.all(group) as { partition: string; checkpoint: string }[];
    return new Map(rows.map((row) => [row.partition, row.checkpoint]));
  }

  /** Forgets a group's checkpoints (a replay rebuilds them), inside the caller's transaction. */
  deleteGroupSync(group: string): void {
    this.deleteGroup.run(group);
  }

  async close(): Promise<void> {
    if (this.ownsDatabase && this.db.open) this.db.close();
  }
}
