import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { partitionForKey } from './partitioner';
import { EmbeddedGroupLease } from './embedded-group-lease';
import type { AppendRecord, GroupListener, GroupMembership, StreamLog, StreamRecord } from './stream-log';

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
  let db: Database.Database | undefined;
  try {
    if (!options.readonly) fs.mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file, { readonly: options.readonly ?? false });
    // Several processes share the file (bridge, processor, API): wait for the write lock instead of failing.
    db.pragma('busy_timeout = 10000');
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    }
    return db;
  } catch (err) {
    db?.close();
    throw new DataDirectoryError(file, err as Error);
  }
}

/**
 * The embedded database cannot be opened or written where DATA_DIR points (SQLite says only
 * "unable to open database file"): names the file and what to do. `settingsError`: the services
 * report it as a setting, without a stack trace.
 */
export class DataDirectoryError extends Error {
  readonly settingsError = true;

  constructor(file: string, cause: Error) {
    const dir = path.dirname(file);
    super(
      `cannot open the database ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'}: ${cause.message}): ` +
        `DATA_DIR must name a folder this user can create files in; ${dir} is not one (read-only, missing permissions or not a folder). ` +
        `Fix its permissions or set DATA_DIR to another folder.`,
      { cause },
    );
  }
}

export interface EmbeddedStreamLogOptions {
  /** Partitions of a stream created by this instance; an existing stream keeps its own count. */
  partitions: number;
}

/**
 * The embedded stream log. Like Kafka, it stores record *batches*: one row per (append, partition)
 * holding that partition's records back to back, so an append of thousands of readings costs a
 * handful of row inserts and a read a handful of row fetches. A record's position is
 * `{batch}.{index}`: the batch's AUTOINCREMENT rowid (only ever grows) and the record's index in
 * it. Positions increase per partition but are not dense, like Kinesis sequence numbers. Appends
 * from several processes are safe: SQLite serialises writers.
 */
export class EmbeddedStreamLog implements StreamLog {
  private readonly partitionCounts = new Map<string, number>();
  private readonly insertBatch: Database.Statement;
  private readonly selectBatches: Database.Statement;
  private readonly selectStream: Database.Statement;
  private readonly insertStream: Database.Statement;
  private readonly selectCommitted: Database.Statement;
  private readonly countAfterBatch: Database.Statement;
  private readonly countInBatch: Database.Statement;
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
      CREATE TABLE IF NOT EXISTS log_batches (
        batch INTEGER PRIMARY KEY AUTOINCREMENT,
        stream TEXT NOT NULL,
        partition INTEGER NOT NULL,
        count INTEGER NOT NULL,
        records BLOB NOT NULL,
        append_time INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS log_batches_by_partition ON log_batches (stream, partition, batch);
      CREATE TABLE IF NOT EXISTS log_consumer_positions (
        group_id TEXT NOT NULL,
        stream TEXT NOT NULL,
        partition TEXT NOT NULL,
        position TEXT NOT NULL,
        PRIMARY KEY (group_id, stream, partition)
      );
    `);
    this.insertBatch = db.prepare('INSERT INTO log_batches (stream, partition, count, records, append_time) VALUES (?, ?, ?, ?, ?)');
    this.selectBatches = db.prepare(
      'SELECT batch, count, records, append_time FROM log_batches WHERE stream = ? AND partition = ? AND batch >= ? ORDER BY batch LIMIT ?',
    );
    this.selectStream = db.prepare('SELECT partitions FROM log_streams WHERE name = ?').pluck();
    this.insertStream = db.prepare('INSERT OR IGNORE INTO log_streams (name, partitions) VALUES (?, ?)');
    this.countAfterBatch = db.prepare('SELECT coalesce(sum(count), 0) FROM log_batches WHERE stream = ? AND partition = ? AND batch > ?').pluck();
    this.countInBatch = db.prepare('SELECT count FROM log_batches WHERE batch = ? AND stream = ? AND partition = ?').pluck();
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
    const byPartition = new Map<number, AppendRecord[]>();
    for (const record of records) {
      const partition = partitionForKey(record.key, count);
      const list = byPartition.get(partition);
      if (list) list.push(record);
      else byPartition.set(partition, [record]);
    }
    for (const [partition, list] of byPartition) {
      this.insertBatch.run(stream, partition, list.length, encodeBatch(list), appendTime);
    }
  }

  async append(stream: string, records: readonly AppendRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.appendTransaction(stream, records);
  }

  async partitions(stream: string): Promise<string[]> {
    return Array.from({ length: this.partitionCount(stream) }, (_, i) => String(i));
  }

  /** Records after `after` in the partition: the rest of its batch, and every later batch's count. */
  async backlog(stream: string, partition: string, after: string | null): Promise<number> {
    const [afterBatch, afterIndex] = after === null ? [0, -1] : parsePosition(after);
    const later = this.countAfterBatch.get(stream, Number(partition), afterBatch) as number;
    const inBatch = after === null ? undefined : (this.countInBatch.get(afterBatch, stream, Number(partition)) as number | undefined);
    return later + (inBatch === undefined ? 0 : Math.max(0, inBatch - afterIndex - 1));
  }

  readSync(stream: string, partition: string, after: string | null, max: number): StreamRecord[] {
    const [afterBatch, afterIndex] = after === null ? [0, -1] : parsePosition(after);
    const out: StreamRecord[] = [];
    let fromBatch = afterBatch;
    // Batches hold many records, so a few rows usually fill `max`; loop for tiny batches.
    while (out.length < max) {
      const rows = this.selectBatches.all(stream, Number(partition), fromBatch, 64) as BatchRow[];
      for (const row of rows) {
        const skip = row.batch === afterBatch ? afterIndex + 1 : 0;
        decodeBatch(row.records, row.count, (index, key, value) => {
          if (index < skip || out.length >= max) return;
          out.push({ stream, partition, position: `${row.batch}.${index}`, key, value, appendTime: row.append_time });
        });
        if (out.length >= max) break;
      }
      if (rows.length < 64) break;
      fromBatch = rows[rows.length - 1].batch + 1;
    }
    return out;
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

  /**
   * One machine, one member: it owns every partition for as long as it stays. Membership is a
   * lease in the database (EmbeddedGroupLease): while another live process is a member, joining
   * is refused with who holds it, so two processors — or a replay and a running processor — never
   * work on the same partitions.
   */
  async joinGroup(group: string, stream: string, listener: GroupListener): Promise<GroupMembership> {
    const lease = new EmbeddedGroupLease(this.db).acquire(group);
    let owned = Array.from({ length: this.partitionCount(stream) }, (_, p) => String(p));
    try {
      await listener.assigned(owned);
    } catch (err) {
      lease.release();
      throw err;
    }
    return {
      owned: () => owned,
      leave: async () => {
        const gone = owned;
        owned = [];
        try {
          await listener.revoked(gone);
        } finally {
          lease.release();
        }
      },
    };
  }

  /** Removes every record of a stream (a derived stream about to be rebuilt), inside the caller's transaction. */
  truncateSync(stream: string): void {
    this.db.prepare('DELETE FROM log_batches WHERE stream = ?').run(stream);
  }

  /** Number of records of a stream (all partitions). For tests, metrics and tooling. */
  countSync(stream: string): number {
    return this.db.prepare('SELECT coalesce(sum(count), 0) FROM log_batches WHERE stream = ?').pluck().get(stream) as number;
  }

  /**
   * Retention: deletes batches appended before the cutoff, oldest first, in chunks so the write
   * lock is never held for long. Returns how many records were removed.
   */
  pruneSync(appendedBefore: number, chunk = 500): number {
    const oldest = this.db.prepare('SELECT batch FROM log_batches ORDER BY batch LIMIT 1').pluck();
    const counted = this.db.prepare('SELECT coalesce(sum(count), 0) FROM log_batches WHERE batch < ? AND append_time < ?').pluck();
    const remove = this.db.prepare('DELETE FROM log_batches WHERE batch < ? AND append_time < ?');
    let removed = 0;
    for (;;) {
      const first = oldest.get() as number | undefined;
      if (first === undefined) break;
      const records = counted.get(first + chunk, appendedBefore) as number;
      const changes = remove.run(first + chunk, appendedBefore).changes;
      removed += records;
      if (changes < chunk) break;
    }
    return removed;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

interface BatchRow {
  batch: number;
  count: number;
  records: Buffer;
  append_time: number;
}

function parsePosition(position: string): [number, number] {
  const dot = position.indexOf('.');
  const batch = Number(dot < 0 ? position : position.slice(0, dot));
  const index = dot < 0 ? Number.MAX_SAFE_INTEGER : Number(position.slice(dot + 1));
  if (!Number.isInteger(batch) || !Number.isInteger(index)) throw new Error(`not a position of the embedded log: "${position}"`);
  return [batch, index];
}

/** Records back to back: u16 key length, key (UTF-8), u32 value length, value. */
function encodeBatch(records: readonly AppendRecord[]): Buffer {
  let size = 0;
  const keys = records.map((r) => Buffer.from(r.key, 'utf8'));
  for (let i = 0; i < records.length; i++) size += 6 + keys[i].length + records[i].value.length;
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (let i = 0; i < records.length; i++) {
    offset = out.writeUInt16BE(keys[i].length, offset);
    offset += keys[i].copy(out, offset);
    offset = out.writeUInt32BE(records[i].value.length, offset);
    offset += records[i].value.copy(out, offset);
  }
  return out;
}

function decodeBatch(bytes: Buffer, count: number, visit: (index: number, key: string, value: Buffer) => void): void {
  let offset = 0;
  for (let index = 0; index < count; index++) {
    const keyLength = bytes.readUInt16BE(offset);
    const key = bytes.toString('utf8', offset + 2, offset + 2 + keyLength);
    offset += 2 + keyLength;
    const valueLength = bytes.readUInt32BE(offset);
    offset += 4;
    // A view, not a copy: the row's buffer lives as long as the records that point into it.
    visit(index, key, bytes.subarray(offset, offset + valueLength));
    offset += valueLength;
  }
}
