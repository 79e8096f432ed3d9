import type Database from 'better-sqlite3';
import * as os from 'node:os';

/** Who holds a consumer group of the embedded log. */
export interface GroupLeaseHolder {
  pid: number;
  host: string;
  /** When the holder took the lease, and when it last renewed it (epoch ms). */
  acquiredAt: number;
  renewedAt: number;
}

/** Thrown when another live process holds the group. */
export class GroupLeaseHeldError extends Error {
  constructor(
    readonly group: string,
    readonly holder: GroupLeaseHolder,
  ) {
    super(
      `consumer group "${group}" of this data directory is held by process ${holder.pid} on ${holder.host} ` +
        `(since ${new Date(holder.acquiredAt).toISOString()}): stop it first (Ctrl-C the launcher, or kill ${holder.pid})`,
    );
  }
}

export interface GroupLeaseOptions {
  /** A holder that has not renewed for this long counts as gone (the only test for a holder on another host). Default 30 s. */
  ttlMs?: number;
  now?: () => number;
}

/**
 * Exclusive ownership of a consumer group of the embedded log: one row per group in the embedded
 * database (table `group_leases`). The embedded log has one member that owns every partition, so
 * a second process that joined the same group — a second processor, or `replay` while the
 * pipeline runs — would process the same partitions twice or rebuild state under a live writer;
 * the lease refuses it and names the holder.
 *
 * A holder is alive while it renews (every ttl/3; the timer does not keep the process alive) and,
 * on this host, while its process exists: a SIGKILLed processor's lease is free at once for its
 * restart. Re-entrant within one process (tests and replay join more than once): the row is
 * removed when the process's last hold on it is released.
 */
export class EmbeddedGroupLease {
  /** This process's holds per database file and group: the row goes only when the last one is released. */
  private static readonly holds = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly now: () => number;
  private readonly select: Database.Statement;
  private readonly upsert: Database.Statement;
  private readonly touch: Database.Statement;
  private readonly remove: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    options: GroupLeaseOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.now = options.now ?? Date.now;
    db.exec(`CREATE TABLE IF NOT EXISTS group_leases (
      group_id TEXT PRIMARY KEY,
      pid INTEGER NOT NULL,
      host TEXT NOT NULL,
      acquired_at INTEGER NOT NULL,
      renewed_at INTEGER NOT NULL
    )`);
    this.select = db.prepare('SELECT pid, host, acquired_at AS acquiredAt, renewed_at AS renewedAt FROM group_leases WHERE group_id = ?');
    this.upsert = db.prepare(
      'INSERT INTO group_leases (group_id, pid, host, acquired_at, renewed_at) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (group_id) DO UPDATE SET pid = excluded.pid, host = excluded.host, acquired_at = excluded.acquired_at, renewed_at = excluded.renewed_at',
    );
    this.touch = db.prepare('UPDATE group_leases SET renewed_at = ? WHERE group_id = ? AND pid = ? AND host = ?');
    this.remove = db.prepare('DELETE FROM group_leases WHERE group_id = ? AND pid = ? AND host = ?');
  }

  /** The live holder of `group` other than this process, or null. */
  otherHolder(group: string): GroupLeaseHolder | null {
    const holder = this.select.get(group) as GroupLeaseHolder | undefined;
    if (holder === undefined || this.isThisProcess(holder) || !this.isAlive(holder)) return null;
    return holder;
  }

  /**
   * Takes the lease of `group` for this process (or keeps it), renewing it until the returned
   * release() is called; throws GroupLeaseHeldError while another live process holds it.
   */
  acquire(group: string): { release(): void } {
    this.db.transaction(() => {
      const other = this.otherHolder(group);
      if (other !== null) throw new GroupLeaseHeldError(group, other);
      const now = this.now();
      const mine = this.select.get(group) as GroupLeaseHolder | undefined;
      this.upsert.run(group, process.pid, os.hostname(), mine !== undefined && this.isThisProcess(mine) ? mine.acquiredAt : now, now);
    }).immediate();
    const timer = setInterval(() => {
      // A failed renewal (the database busy for a moment) is tried again at the next tick; the ttl allows two misses.
      try {
        this.touch.run(this.now(), group, process.pid, os.hostname());
      } catch {
        /* next tick */
      }
    }, Math.max(1, Math.floor(this.ttlMs / 3)));
    timer.unref();
    const key = `${this.db.name}\u0000${group}`;
    EmbeddedGroupLease.holds.set(key, (EmbeddedGroupLease.holds.get(key) ?? 0) + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        const left = (EmbeddedGroupLease.holds.get(key) ?? 1) - 1;
        if (left > 0) EmbeddedGroupLease.holds.set(key, left);
        else EmbeddedGroupLease.holds.delete(key);
        // An inner hold (replay's processor inside replay's own lease) leaves the row to the outer one.
        if (left === 0 && this.db.open) this.remove.run(group, process.pid, os.hostname());
      },
    };
  }

  private isThisProcess(holder: GroupLeaseHolder): boolean {
    return holder.pid === process.pid && holder.host === os.hostname();
  }

  private isAlive(holder: GroupLeaseHolder): boolean {
    if (this.now() - holder.renewedAt > this.ttlMs) return false;
    if (holder.host !== os.hostname()) return true;
    try {
      process.kill(holder.pid, 0);
      return true;
    } catch (err) {
      // EPERM: the process exists but belongs to another user.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}
