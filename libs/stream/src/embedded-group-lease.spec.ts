import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTempDir } from '@meterstream/test-harness';
import { openEmbeddedDatabase, EmbeddedStreamLog } from './embedded';
import { EmbeddedGroupLease, GroupLeaseHeldError } from './embedded-group-lease';

const NOW = Date.parse('2026-11-30T12:00:00Z');

describe('EmbeddedGroupLease', () => {
  let temp: ReturnType<typeof makeTempDir>;
  const children: ChildProcess[] = [];
  beforeEach(() => (temp = makeTempDir()));
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    temp.cleanup();
  });

  /** A live process of this host that is not this one, standing in for another processor. */
  const otherProcess = (): ChildProcess => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    children.push(child);
    return child;
  };

  const hold = (db: ReturnType<typeof openEmbeddedDatabase>, group: string, pid: number, host: string, renewedAt: number) =>
    db.prepare('INSERT OR REPLACE INTO group_leases (group_id, pid, host, acquired_at, renewed_at) VALUES (?, ?, ?, ?, ?)').run(group, pid, host, renewedAt - 60_000, renewedAt);

  it('refuses a group another live process holds, naming it; free once that process is gone', async () => {
    const db = openEmbeddedDatabase(path.join(temp.dir, 'm.db'));
    const lease = new EmbeddedGroupLease(db, { now: () => NOW });
    const other = otherProcess();
    hold(db, 'stream-processor', other.pid!, os.hostname(), NOW - 1_000);
    expect(() => lease.acquire('stream-processor')).toThrow(GroupLeaseHeldError);
    expect(() => lease.acquire('stream-processor')).toThrow(`held by process ${other.pid} on ${os.hostname()}`);
    // Another group is not affected.
    lease.acquire('alert-channel-webhook').release();

    const exited = new Promise((resolve) => other.once('exit', resolve));
    other.kill('SIGKILL');
    await exited;
    // A SIGKILLed holder never released: its process being gone frees the group at once.
    const mine = lease.acquire('stream-processor');
    expect(lease.otherHolder('stream-processor')).toBeNull();
    mine.release();
    expect(db.prepare('SELECT count(*) FROM group_leases').pluck().get()).toBe(0);
    db.close();
  });

  it('counts a holder on another host as alive while it renews within the ttl, and as gone after', () => {
    const db = openEmbeddedDatabase(path.join(temp.dir, 'm.db'));
    let now = NOW;
    const lease = new EmbeddedGroupLease(db, { now: () => now, ttlMs: 30_000 });
    hold(db, 'stream-processor', 4242, 'another-host', NOW - 10_000);
    expect(() => lease.acquire('stream-processor')).toThrow('held by process 4242 on another-host');
    now = NOW + 25_000; // 35 s since it renewed
    lease.acquire('stream-processor').release();
    db.close();
  });

  it('is re-entrant within a process, and the embedded log takes it when a member joins and frees it when it leaves', async () => {
    const log = EmbeddedStreamLog.open(path.join(temp.dir, 'm.db'), { partitions: 2 });
    const listener = { assigned: async () => undefined, revoked: async () => undefined };
    const first = await log.joinGroup('stream-processor', 'readings', listener);
    const again = await log.joinGroup('stream-processor', 'readings', listener);
    expect(log.db.prepare('SELECT pid FROM group_leases WHERE group_id = ?').pluck().get('stream-processor')).toBe(process.pid);
    await again.leave();
    // The first member still holds it: the row stays until the last hold is released.
    expect(log.db.prepare('SELECT pid FROM group_leases WHERE group_id = ?').pluck().get('stream-processor')).toBe(process.pid);
    await first.leave();
    expect(log.db.prepare('SELECT count(*) FROM group_leases').pluck().get()).toBe(0);

    const other = otherProcess();
    hold(log.db, 'stream-processor', other.pid!, os.hostname(), Date.now());
    await expect(log.joinGroup('stream-processor', 'readings', listener)).rejects.toThrow(`held by process ${other.pid}`);
    await log.close();
  });
});
