import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import type { GroupListener } from '../stream-log';
import { LeaseCoordinator, type LeaseTimings, type ShardSource } from './lease-coordinator';
import { LeaseLostError, LeaseTable, type LeaseFence, type LeaseTableOptions } from './lease-table';

export interface LeaseManagerOptions extends LeaseTimings {
  table: LeaseTableOptions;
  /** This process's worker id; default host:pid:random (unique per process start). */
  workerId?: string;
  logger?: { warn(message: string): void };
  now?: () => number;
}

/** KCL's default failover time is 10 s; renewals every third of it; a take round as often as a lease may expire. */
export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { leaseDurationMs: 10_000, renewIntervalMs: 3_000, takeIntervalMs: 10_000 };

/**
 * One process's leases in the lease table: the consumer groups it joined (a LeaseCoordinator
 * each), the positions those groups commit (kept in the lease rows, fenced by the lease), and the
 * fence other lease-bound writes use (DynamoCheckpointStore). Shared by the Kinesis log and the
 * processor's checkpoint store of one process.
 */
export class LeaseManager {
  readonly workerId: string;
  readonly table: LeaseTable;
  private readonly coordinators = new Set<LeaseCoordinator>();
  private readonly logger: { warn(message: string): void };

  constructor(private readonly options: LeaseManagerOptions) {
    if (!(options.renewIntervalMs > 0 && options.renewIntervalMs < options.leaseDurationMs)) {
      throw new RangeError(`the lease renewal interval (${options.renewIntervalMs} ms) must be positive and below the lease duration (${options.leaseDurationMs} ms)`);
    }
    this.workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.table = new LeaseTable(options.table);
    this.logger = options.logger ?? console;
  }

  /** The lease rows of consumer group `group` on Kinesis stream `streamName`. */
  static leaseGroup(group: string, streamName: string): string {
    return `${group}@${streamName}`;
  }

  /** Joins a group: resolves after the first round (which may assign nothing yet: other workers hold every lease). */
  async join(group: string, streamName: string, shards: ShardSource, listener: GroupListener): Promise<LeaseCoordinator> {
    const coordinator = new LeaseCoordinator(group, LeaseManager.leaseGroup(group, streamName), this.table, shards, listener, {
      me: this.workerId,
      leaseDurationMs: this.options.leaseDurationMs,
      renewIntervalMs: this.options.renewIntervalMs,
      takeIntervalMs: this.options.takeIntervalMs,
      logger: this.logger,
      now: this.options.now,
      onLeft: () => this.coordinators.delete(coordinator),
    });
    // Registered first: writes the listener makes during the first round find their fence.
    this.coordinators.add(coordinator);
    try {
      await coordinator.start();
    } catch (error) {
      coordinator.stop();
      this.coordinators.delete(coordinator);
      throw error;
    }
    return coordinator;
  }

  /** The positions group `group` committed in stream `streamName`, by shard. */
  async committed(group: string, streamName: string): Promise<Map<string, string>> {
    const leases = await this.table.list(LeaseManager.leaseGroup(group, streamName));
    return new Map(leases.filter((l) => l.checkpoint !== undefined).map((l) => [l.shardId, l.checkpoint!]));
  }

  /**
   * Commits positions. A group this process joined on the stream commits only shards it holds,
   * each conditional on its lease (LeaseLostError otherwise); a group it did not join (tooling, a
   * courtesy commit of a stream nobody leases) writes without a fence.
   */
  async commit(group: string, streamName: string, positions: ReadonlyMap<string, string>): Promise<void> {
    const leaseGroup = LeaseManager.leaseGroup(group, streamName);
    const coordinator = [...this.coordinators].find((c) => c.leaseGroup === leaseGroup);
    await Promise.all(
      [...positions].map(([shardId, position]) =>
        coordinator === undefined ? this.table.commitUnfenced(leaseGroup, shardId, position) : coordinator.withFence(shardId, (fence) => this.table.commitFenced(fence, position)),
      ),
    );
  }

  /** Runs a write fenced by the lease this process holds on `shardId` in group `group` (any stream); LeaseLostError if none. */
  withFence<T>(group: string, shardId: string, write: (fence: LeaseFence) => Promise<T>): Promise<T> {
    const coordinator = [...this.coordinators].find((c) => c.group === group && c.holds(shardId));
    if (coordinator === undefined) return Promise.reject(new LeaseLostError(group, shardId, `this worker (${this.workerId}) holds no lease on it`));
    return coordinator.withFence(shardId, write);
  }

  /** Stops every coordinator without releasing (their leases expire) and closes the client. */
  close(): void {
    for (const coordinator of this.coordinators) coordinator.stop();
    this.coordinators.clear();
    this.table.close();
  }
}
