import type { GroupListener, GroupMembership } from '../stream-log';
import { compareShardIds, readableShards } from '../kinesis/shard-lineage';
import { balance, observe, type Observation } from './lease-balancing';
import { LeaseLostError, type Lease, type LeaseFence, type LeaseTable } from './lease-table';

/** A shard as the stream lists it now. */
export interface ListedShard {
  id: string;
  parents: readonly string[];
  /** A reshard ended it: it has an ending sequence number. */
  closed: boolean;
}

/** What the coordinator needs to know of the stream (the Kinesis adapter answers it). */
export interface ShardSource {
  list(): Promise<ListedShard[]>;
  /** A closed shard with nothing after `after`: read to its end by the group. */
  isFinished(shardId: string, after: string | null): Promise<boolean>;
}

export interface LeaseTimings {
  /** A lease whose counter has not moved for this long (on the observer's clock) may be taken. */
  leaseDurationMs: number;
  /** How often a holder renews its leases (well below leaseDurationMs: several renewals may fail before the lease expires). */
  renewIntervalMs: number;
  /** How often a worker lists the shards and leases to take, steal, adopt and release. */
  takeIntervalMs: number;
}

export interface LeaseCoordinatorOptions extends LeaseTimings {
  /** This worker's id: unique per process, so a restarted process never mistakes its predecessor's leases for its own. */
  me: string;
  logger: { warn(message: string): void };
  now?: () => number;
  /** Told once leave() has released the leases. */
  onLeft?: () => void;
}

interface Held {
  counter: number;
  /** When the last successful renewal (or the take) was SENT, on this worker's clock. */
  renewedAt: number;
  /** The listener was told (assigned() resolved). */
  assigned: boolean;
  /** Renewals and fenced writes of this lease run one after another, so a fence never races a renewal. */
  chain: Promise<unknown>;
}

/**
 * One worker's membership of a consumer group on one Kinesis stream, kept by leases in the
 * lease table (LeaseTable), the way the Kinesis Client Library's lease coordinator does it.
 *
 * Two loops, so that a slow listener never delays a renewal:
 * - renewal, every renewIntervalMs: each held lease's counter + 1, conditional on owner and
 *   counter. A refused renewal means the lease was taken: it is dropped at once (every fenced
 *   write for it fails from then on) and revoked(). A renewal that cannot reach DynamoDB is
 *   retried by the SDK and at the next tick; once leaseDurationMs − renewIntervalMs have passed
 *   since the last successful one was sent, the lease counts as lost here too — before any other
 *   worker may take it, since a taker waits a full leaseDurationMs after it saw the counter move.
 *   A renewal that finds a hand-over request (a steal) revokes the shard, then hands the lease
 *   to the requester, so the shard is checkpointed before its next owner loads it.
 * - membership, every takeIntervalMs: list the shards (creating a lease row for a new one, with
 *   its parents), adopt leases handed to this worker, release drained shards, then take expired
 *   leases or ask for one (lease-balancing.ts), and tell the listener.
 *
 * Fencing: a write that needs the lease (a committed position, a processor checkpoint) runs
 * through withFence(), which hands it the current owner and counter, serialised with renewals;
 * the write is conditional on both, so a worker that lost the lease cannot overwrite its next
 * owner's state, whatever it believes.
 */
export class LeaseCoordinator implements GroupMembership {
  private readonly held = new Map<string, Held>();
  private observed = new Map<string, Observation>();
  /** Closed shards known to be read to their end by the group (stays true). */
  private readonly finished = new Set<string>();
  private membershipChain: Promise<void> = Promise.resolve();
  private renewTimer: NodeJS.Timeout | undefined;
  private takeTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** leave() is under way: no more take rounds, but renewals go on until the leases are released. */
  private leaving = false;
  private readonly now: () => number;

  constructor(
    readonly group: string,
    readonly leaseGroup: string,
    private readonly table: LeaseTable,
    private readonly shards: ShardSource,
    private readonly listener: GroupListener,
    private readonly options: LeaseCoordinatorOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** The first membership round (rejects, and nothing is joined, if it fails); then both loops run. */
  async start(): Promise<void> {
    await this.enqueue(() => this.membershipRound());
    this.scheduleRenewal();
    this.scheduleTake();
  }

  /** The shards this worker holds and the listener was told about. */
  owned(): string[] {
    return [...this.held].filter(([, h]) => h.assigned).map(([id]) => id).sort(compareShardIds);
  }

  /** Whether this worker holds the lease of `shardId` now. */
  holds(shardId: string): boolean {
    return this.held.has(shardId);
  }

  /**
   * Runs a write that needs the lease of `shardId` with its fence (owner + current counter),
   * after any renewal of it in flight. Rejects with LeaseLostError when the lease is not held.
   */
  withFence<T>(shardId: string, write: (fence: LeaseFence) => Promise<T>): Promise<T> {
    const held = this.held.get(shardId);
    if (held === undefined) return Promise.reject(new LeaseLostError(this.leaseGroup, shardId, `not held by ${this.options.me}`));
    const run = held.chain.then(() => {
      const current = this.held.get(shardId);
      if (current !== held) throw new LeaseLostError(this.leaseGroup, shardId, `lost by ${this.options.me} while the write waited`);
      return write(this.fenceOf(shardId, held));
    });
    held.chain = run.catch(() => undefined);
    return run;
  }

  /** Revokes every shard (the listener checkpoints them under their still valid fences), then releases the leases for the others. */
  async leave(): Promise<void> {
    this.leaving = true;
    clearTimeout(this.takeTimer);
    try {
      await this.enqueue(async () => {
        const assigned = this.owned();
        if (assigned.length > 0) await this.listener.revoked(assigned);
        await Promise.all([...this.held.keys()].map((id) => this.releaseHeld(id)));
      });
    } finally {
      this.stop();
      this.options.onLeft?.();
    }
  }

  /** Stops both loops without revoking or releasing (the log is closing; the leases expire). */
  stop(): void {
    this.stopped = true;
    this.stopTimers();
  }

  private fenceOf(shardId: string, held: Held): LeaseFence {
    return { leaseGroup: this.leaseGroup, shardId, owner: this.options.me, counter: held.counter };
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const run = this.membershipChain.then(step);
    this.membershipChain = run.catch(() => undefined);
    return run;
  }

  private stopTimers(): void {
    clearTimeout(this.renewTimer);
    clearTimeout(this.takeTimer);
    this.renewTimer = this.takeTimer = undefined;
  }

  private scheduleRenewal(): void {
    if (this.stopped) return;
    this.renewTimer = setTimeout(() => {
      this.renewAll()
        .catch((error) => this.options.logger.warn(`lease renewal in ${this.leaseGroup} failed: ${describe(error)}`))
        .finally(() => this.scheduleRenewal());
    }, this.options.renewIntervalMs);
    // The consumer's own loop keeps the process alive; these timers alone should not.
    this.renewTimer.unref();
  }

  private scheduleTake(): void {
    if (this.stopped || this.leaving) return;
    this.takeTimer = setTimeout(() => {
      this.enqueue(() => this.membershipRound())
        .catch((error) => this.options.logger.warn(`lease round in ${this.leaseGroup} failed, retrying in ${this.options.takeIntervalMs} ms: ${describe(error)}`))
        .finally(() => this.scheduleTake());
    }, this.options.takeIntervalMs);
    this.takeTimer.unref();
  }

  private async renewAll(): Promise<void> {
    await Promise.all(
      [...this.held].map(async ([shardId, held]) => {
        const sentAt = this.now();
        let lease: Lease;
        try {
          lease = await this.withFence(shardId, (fence) => this.table.renew(fence));
        } catch (error) {
          if (this.held.get(shardId) !== held) return; // already dropped
          if (error instanceof LeaseLostError) return this.lose(shardId, held, 'another worker took it');
          if (this.now() - held.renewedAt > this.options.leaseDurationMs - this.options.renewIntervalMs) {
            return this.lose(shardId, held, `no renewal succeeded for ${this.now() - held.renewedAt} ms (${describe(error)})`);
          }
          this.options.logger.warn(`renewing the lease of ${shardId} in ${this.leaseGroup} failed, retrying: ${describe(error)}`);
          return;
        }
        held.counter = lease.counter;
        held.renewedAt = sentAt;
        if (lease.pendingOwner !== undefined && lease.pendingOwner !== this.options.me) {
          void this.enqueue(() => this.handOver(shardId, held, lease.pendingOwner!)).catch((error) =>
            this.options.logger.warn(`handing ${shardId} in ${this.leaseGroup} over failed: ${describe(error)}`),
          );
        }
      }),
    );
  }

  /** The lease is gone: no fenced write succeeds from now; the listener stops reading the shard. */
  private lose(shardId: string, held: Held, why: string): void {
    this.held.delete(shardId);
    this.options.logger.warn(`lost the lease of ${shardId} in ${this.leaseGroup}: ${why}`);
    if (held.assigned) void this.enqueue(() => this.listener.revoked([shardId])).catch((error) => this.options.logger.warn(`revoking ${shardId} failed: ${describe(error)}`));
  }

  /** A steal: revoke (the listener checkpoints while the fence still holds), then pass the lease on. */
  private async handOver(shardId: string, held: Held, to: string): Promise<void> {
    if (this.held.get(shardId) !== held) return;
    if (held.assigned) await this.listener.revoked([shardId]);
    held.assigned = false;
    try {
      await this.withFence(shardId, (fence) => this.table.handOver(fence, to));
    } finally {
      this.held.delete(shardId);
    }
  }

  private async releaseHeld(shardId: string): Promise<void> {
    const held = this.held.get(shardId);
    if (held === undefined) return;
    try {
      await this.withFence(shardId, (fence) => this.table.release(fence));
    } catch (error) {
      // It expires on its own.
      this.options.logger.warn(`releasing the lease of ${shardId} in ${this.leaseGroup} failed: ${describe(error)}`);
    } finally {
      this.held.delete(shardId);
    }
  }

  private async membershipRound(): Promise<void> {
    if (this.stopped || this.leaving) return;
    const me = this.options.me;
    const listed = await this.shards.list();
    let leases = await this.table.list(this.leaseGroup);
    const known = new Set(leases.map((l) => l.shardId));
    const missing = listed.filter((s) => !known.has(s.id));
    if (missing.length > 0) {
      await Promise.all(missing.map((s) => this.table.create(this.leaseGroup, s.id, s.parents)));
      leases = await this.table.list(this.leaseGroup);
    }
    const now = this.now();
    const listedIds = new Map(listed.map((s) => [s.id, s]));
    // Leases of shards that expired out of the stream are left alone: nothing is left to read.
    leases = leases.filter((l) => listedIds.has(l.shardId));
    this.observed = observe(this.observed, leases, now);

    // Drained closed shards: read to their end as far as the group committed.
    for (const lease of leases) {
      const shard = listedIds.get(lease.shardId)!;
      if (shard.closed && !this.finished.has(shard.id) && (await this.shards.isFinished(shard.id, lease.checkpoint ?? null))) this.finished.add(shard.id);
    }
    const eligible = new Set(readableShards(new Map(listed.map((s) => [s.id, s.parents])), this.finished));

    // Held shards that are drained (or no longer listed) are given back.
    const done = [...this.held.keys()].filter((id) => !eligible.has(id));
    if (done.length > 0) {
      const told = done.filter((id) => this.held.get(id)!.assigned);
      if (told.length > 0) await this.listener.revoked(told);
      await Promise.all(done.map((id) => this.releaseHeld(id)));
    }

    // Leases handed over to this worker (a steal it asked for) are its own now.
    for (const lease of leases) {
      if (lease.owner === me && !this.held.has(lease.shardId) && eligible.has(lease.shardId)) {
        this.held.set(lease.shardId, { counter: lease.counter, renewedAt: now, assigned: false, chain: Promise.resolve() });
      }
    }

    const decision = balance({ me, leases, observed: this.observed, eligible, now, leaseDurationMs: this.options.leaseDurationMs });
    for (const lease of decision.take) {
      const sentAt = this.now();
      try {
        const taken = await this.table.take(this.leaseGroup, lease.shardId, lease.counter, me);
        this.held.set(lease.shardId, { counter: taken.counter, renewedAt: sentAt, assigned: false, chain: Promise.resolve() });
      } catch (error) {
        if (!(error instanceof LeaseLostError)) throw error; // another worker was faster: next round
      }
    }
    if (decision.steal !== undefined && decision.steal.owner !== undefined) {
      await this.table.requestHandover(this.leaseGroup, decision.steal.shardId, decision.steal.owner, me);
    }

    const fresh = [...this.held].filter(([, h]) => !h.assigned).map(([id]) => id).sort(compareShardIds);
    if (fresh.length > 0) {
      // A throwing assigned() leaves them unassigned (held): the next round tries again.
      await this.listener.assigned(fresh);
      for (const id of fresh) {
        const held = this.held.get(id);
        if (held !== undefined) held.assigned = true;
      }
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
