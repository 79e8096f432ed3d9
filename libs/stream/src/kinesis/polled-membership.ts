import type { GroupListener, GroupMembership } from '../stream-log';

/**
 * A group membership whose partitions are recomputed by polling (Kinesis has no broker-side
 * groups). `evaluate` returns the partitions this member should own now; every `pollMs` the
 * difference to the current set is reported: revoked() first, then assigned(). Polls never
 * overlap; a failed poll is reported to `onError` and retried at the next tick.
 */
export class PolledMembership implements GroupMembership {
  private current: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Every evaluation runs after the previous one: a tick, refreshNow() and leave() never overlap. */
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly evaluate: () => Promise<string[]>,
    private readonly listener: GroupListener,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The first evaluation: rejects (and the member does not join) if it fails. */
  async start(): Promise<void> {
    await this.enqueue();
    this.schedule();
  }

  owned(): string[] {
    return [...this.current];
  }

  /** Re-evaluates now instead of at the next tick (e.g. right after a shard was drained). */
  refreshNow(): Promise<void> {
    return this.enqueue();
  }

  async leave(): Promise<void> {
    this.stop();
    await this.chain;
    const gone = this.current;
    this.current = [];
    if (gone.length > 0) await this.listener.revoked(gone);
  }

  /** Stops polling without revoking (the log is closing). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private enqueue(): Promise<void> {
    const run = this.chain.then(() => (this.stopped ? undefined : this.refresh()));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.enqueue()
        .catch(this.onError)
        .finally(() => this.schedule());
    }, this.pollMs);
    // The consumer's own read loop keeps the process alive; this timer alone should not.
    this.timer.unref();
  }

  private async refresh(): Promise<void> {
    const next = await this.evaluate();
    if (this.stopped) return;
    const gone = this.current.filter((p) => !next.includes(p));
    if (gone.length > 0) {
      this.current = this.current.filter((p) => next.includes(p));
      await this.listener.revoked(gone);
    }
    const added = next.filter((p) => !this.current.includes(p));
    if (added.length > 0) {
      // Owned only once the listener has loaded their checkpoints; a throwing assigned() is retried next poll.
      await this.listener.assigned(added);
      this.current = next.filter((p) => this.current.includes(p) || added.includes(p));
    }
  }
}
