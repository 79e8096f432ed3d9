import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { partitionForKey } from './partitioner';
import type { AppendRecord, StreamLog, StreamRecord } from './stream-log';

export interface EmbeddedDatabaseOptions {
  /**
   * SQLite `synchronous` in WAL mode. `full` (default) fsyncs every commit, so an acknowledged
   * append survives a power cut; `normal` survives a process crash but not an OS crash.
   */
  synchronous?: 'full' | 'normal';
  readonly?: boolean;
}

/**
 * Opens (creating if needed) the embedded database file shared by the log, the processor's
 * checkpoints and the read model, so one SQLite transaction can cover all three.
 */
export function openEmbeddedDatabase(file: string, options: EmbeddedDatabaseOptions = {}): Database.Database {
  if (!options.readonly) fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { readonly: options.readonly ?? false });
  // Several processes share the file (bridge, processor, API): wait for the write lock instead of failing.
  db.pragma('busy_timeout = 10000');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  }
  return db;
}

export interface EmbeddedStreamLogOptions {
  /** Partitions of a stream created by this instance; an existing stream keeps its own count. */
  partitions: number;
}

/**
 * The embedded stream log: every stream in one table, partitioned by key, positions taken from
 * an AUTOINCREMENT rowid so they only ever grow (per partition they are increasing, not dense,
 * like Kinesis sequence numbers). Appends from several processes are safe: SQLite serialises writers.
 */
export class EmbeddedStreamLog implements StreamLog {
  private readonly partitionCounts = new Map<string, number>();
  private readonly insertRecord: Database.Statement;
  private readonly selectRecords: Database.Statement;
  private readonly selectStream: Database.Statement;
  private readonly insertStream: Database.Statement;
  private readonly selectCommitted: Database.Statement;
  private readonly upsertCommitted: Database.Statement;
  private readonly appendTransaction: (stream: string, records: readonly AppendRecord[]) => void;

  constructor(
    readonly db: Database.Database,
    private readonly options: EmbeddedStreamLogOptions,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS log_streams (
        name TEXT PRIMARY KEY,
        partitions INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS log_records (
        position INTEGER PRIMARY KEY AUTOINCREMENT,
        stream TEXT NOT NULL,
        partition INTEGER NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        append_time INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS log_records_by_partition ON log_records (stream, partition, position);
      CREATE TABLE IF NOT EXISTS log_consumer_positions (
        group_id TEXT NOT NULL,
        stream TEXT NOT NULL,
        partition TEXT NOT NULL,
        position TEXT NOT NULL,
        PRIMARY KEY (group_id, stream, partition)
      );
    `);
    this.insertRecord = db.prepare('INSERT INTO log_records (stream, partition, key, value, append_time) VALUES (?, ?, ?, ?, ?)');
    this.selectRecords = db.prepare(
      'SELECT position, key, value, append_time FROM log_records WHERE stream = ? AND partition = ? AND position > ? ORDER BY position LIMIT ?',
    );
    this.selectStream = db.prepare('SELECT partitions FROM log_streams WHERE name = ?').pluck();
    this.insertStream = db.prepare('INSERT OR IGNORE INTO log_streams (name, partitions) VALUES (?, ?)');
    this.selectCommitted = db.prepare('SELECT partition, position FROM log_consumer_positions WHERE group_id = ? AND stream = ?');
    this.upsertCommitted = db.prepare(
      'INSERT INTO log_consumer_positions (group_id, stream, partition, position) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT (group_id, stream, partition) DO UPDATE SET position = excluded.position',
    );
    this.appendTransaction = db.transaction((stream: string, records: readonly AppendRecord[]) => this.appendSync(stream, records));
  }

  static open(file: string, options: EmbeddedStreamLogOptions & EmbeddedDatabaseOptions): EmbeddedStreamLog {
    return new EmbeddedStreamLog(openEmbeddedDatabase(file, options), options);
  }

  /** The partition count of a stream, creating the stream on first use. */
  partitionCount(stream: string): number {
    let count = this.partitionCounts.get(stream);
    if (count === undefined) {
      this.insertStream.run(stream, this.options.partitions);
      count = this.selectStream.get(stream) as number;
      this.partitionCounts.set(stream, count);
    }
    return count;
  }

  /**
   * Appends inside the caller's transaction (the processor commits outputs, read model and
   * checkpoint together). Outside a transaction use append().
   */
  appendSync(stream: string, records: readonly AppendRecord[], appendTime = Date.now()): void {
    const count = this.partitionCount(stream);
    for (const record of records) {
      this.insertRecord.run(stream, partitionForKey(record.key, count), record.key, record.value, appendTime);
    }
  }

  async append(stream: string, records: readonly AppendRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.appendTransaction(stream, records);
  }

  async partitions(stream: string): Promise<string[]> {
    return Array.from({ length: this.partitionCount(stream) }, (_, i) => String(i));
  }

  readSync(stream: string, partition: string, after: string | null, max: number): StreamRecord[] {
    const rows = this.selectRecords.all(stream, Number(partition), after === null ? 0 : Number(after), max) as {
      position: number;
      key: string;
      value: Buffer;
      append_time: number;
    }[];
    return rows.map((row) => ({
      stream,
      partition,
      position: String(row.position),
      key: row.key,
      value: row.value,
      appendTime: row.append_time,
    }));
  }

  async read(stream: string, partition: string, after: string | null, max: number): Promise<StreamRecord[]> {
    return this.readSync(stream, partition, after, max);
  }

  async committed(group: string, stream: string): Promise<Map<string, string>> {
    const rows = this.selectCommitted.all(group, stream) as { partition: string; position: string }[];
    return new Map(rows.map((r) => [r.partition, r.position]));
  }

  commitSync(group: string, stream: string, positions: ReadonlyMap<string, string>): void {
    for (const [partition, position] of positions) this.upsertCommitted.run(group, stream, partition, position);
  }

  async commit(group: string, stream: string, positions: ReadonlyMap<string, string>): Promise<void> {
    this.db.transaction(() => this.commitSync(group, stream, positions))();
  }

  /** Number of records of a stream (all partitions). For tests, metrics and tooling. */
  countSync(stream: string): number {
    return this.db.prepare('SELECT count(*) FROM log_records WHERE stream = ?').pluck().get(stream) as number;
  }

  /**
   * Retention: deletes records appended before the cutoff, oldest first, in chunks so the write
   * lock is never held for long. Returns how many were removed.
   */
  pruneSync(appendedBefore: number, chunk = 5000): number {
    const oldest = this.db.prepare('SELECT position FROM log_records ORDER BY position LIMIT 1').pluck();
    const remove = this.db.prepare('DELETE FROM log_records WHERE position < ? AND append_time < ?');
    let removed = 0;
    for (;;) {
      const first = oldest.get() as number | undefined;
      if (first === undefined) break;
      const changes = remove.run(first + chunk, appendedBefore).changes;
      removed += changes;
      if (changes < chunk) break;
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
