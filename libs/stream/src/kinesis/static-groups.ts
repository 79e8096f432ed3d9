import type { GroupListener } from '../stream-log';
import type { CommittedPositions } from './committed-positions';
import { describeError } from './errors';
import { PolledMembership } from './polled-membership';
import { orderParentsFirst, readableShards, shardsOwnedBy, type ShardLineage } from './shard-lineage';
import { lineageOf, type ShardListings } from './shard-listing';
import type { ShardReader } from './shard-reader';

export interface StaticGroupsOptions {
  /** This member: instance `instance` of `instances`, 0-based. */
  instance: number;
  instances: number;
  /** How often a member lists the shards again. */
  pollMs: number;
  logger: { warn(message: string): void };
}

/**
 * Consumer groups as a static spread of shards over instances, recomputed by polling: a member is
 * assigned its own shards once they are readable, i.e. every ancestor is drained as far as the
 * group committed (see KinesisStreamLog.joinGroup).
 */
export class StaticGroups {
  private readonly memberships = new Set<PolledMembership>();

  constructor(
    private readonly listings: ShardListings,
    private readonly reader: ShardReader,
    private readonly positions: CommittedPositions,
    private readonly options: StaticGroupsOptions,
  ) {}

  /** Joins group `group` on Kinesis stream `name`: resolves after the first assignment. */
  async join(group: string, name: string, listener: GroupListener): Promise<PolledMembership> {
    const { instances, pollMs, logger } = this.options;
    if (instances > 1 && !this.positions.shared) {
      logger.warn(
        `Kinesis group ${group} on ${name}: ${instances} instances but no shared positionStore; ` +
          `a child shard whose parent another instance reads will wait forever for that parent's commit`,
      );
    }
    const membership = new PolledMembership(
      () => this.ownedReadableShards(group, name),
      listener,
      pollMs,
      (error) => logger.warn(`Kinesis group ${group} on ${name}: listing shards failed, retrying in ${pollMs} ms: ${describeError(error)}`),
    );
    await membership.start();
    this.memberships.add(membership);
    return membership;
  }

  /** Stops every membership's polling without revoking (the log is closing). */
  stopAll(): void {
    for (const membership of this.memberships) membership.stop();
    this.memberships.clear();
  }

  /** The shards this member should read now. */
  private async ownedReadableShards(group: string, name: string): Promise<string[]> {
    const shards = await this.listings.list(name, 0);
    const lineage: ShardLineage = lineageOf(shards);
    const mine = new Set(shardsOwnedBy(orderParentsFirst(lineage), this.options.instance, this.options.instances));
    // Whether a closed shard is drained matters only for this member's shards and their ancestors.
    const relevant = new Set<string>();
    const visit = (id: string) => {
      if (relevant.has(id)) return;
      relevant.add(id);
      for (const parent of lineage.get(id) ?? []) visit(parent);
    };
    mine.forEach(visit);
    const closed = shards.filter((s) => s.closed && relevant.has(s.id));
    const committed = await this.positions.load(group, name, async () => closed.map((s) => s.id));
    const finished = new Set<string>();
    for (const shard of closed) {
      if (await this.reader.isFinished(name, shard.id, committed.get(shard.id) ?? null)) finished.add(shard.id);
    }
    return readableShards(lineage, finished).filter((id) => mine.has(id));
  }
}
