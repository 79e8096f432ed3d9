import type Database from 'better-sqlite3';
import type { ProcessorSnapshot } from '@meterstream/processing';

/** What a restart of the embedded processor resumes from: the input positions and the topology state that matches them. */
export interface EmbeddedCheckpoint {
  /** Stream → partition → last position processed. */
  positions: Record<string, Record<string, string>>;
  /** Highest event time processed (epoch ms). */
  streamTime?: number;
  topology: ProcessorSnapshot | null;
}

/**
 * The embedded processor's checkpoints, in the embedded database (table processor_checkpoints),
 * written inside the same transaction as the outputs and the read model, so a crash leaves either
 * all of a batch's effects or none of them. Here rather than in the processor app so that the
 * CLI (retrain reads the running model from it) and tests need not import an app.
 */
export class EmbeddedCheckpointStore {
  private readonly select: Database.Statement;
  private readonly upsert: Database.Statement;

  constructor(
    db: Database.Database,
    private readonly name: string,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS processor_checkpoints (
      name TEXT PRIMARY KEY,
      checkpoint TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    )`);
    this.select = db.prepare('SELECT checkpoint FROM processor_checkpoints WHERE name = ?').pluck();
    this.upsert = db.prepare(
      'INSERT INTO processor_checkpoints (name, checkpoint, updated_at) VALUES (?, ?, ?) ' +
        'ON CONFLICT (name) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at',
    );
  }

  load(): EmbeddedCheckpoint {
    const text = this.select.get(this.name) as string | undefined;
    return text ? (JSON.parse(text) as EmbeddedCheckpoint) : { positions: {}, topology: null };
  }

  /** Call inside the batch's transaction. */
  saveSync(checkpoint: EmbeddedCheckpoint, now: number): void {
    this.upsert.run(this.name, JSON.stringify(checkpoint), now);
  }
}
