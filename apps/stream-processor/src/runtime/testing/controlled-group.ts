import type { AppendRecord, GroupListener, GroupMembership, StreamLog, StreamRecord } from '@meterstream/stream';

interface Member {
  listener: GroupListener | undefined;
  owned: string[];
  dead: boolean;
  /** Every read this member made: which partition, from which position. */
  reads: { stream: string; partition: string; after: string | null }[];
}

/**
 * A consumer group the test drives by hand, over one shared log: it decides which member owns
 * which partitions and when that changes, the way a Kafka group coordinator would, with no
 * timing involved. A member killed with kill() gets no callback (a SIGKILLed process hears
 * nothing) and every later call through its log fails, so it can neither read nor write again.
 */
export class ControlledGroup {
  private readonly members = new Map<string, Member>();

  constructor(private readonly shared: StreamLog) {}

  /** The StreamLog member `name` sees: the shared log, with joinGroup answered by this group. */
  logFor(name: string): StreamLog {
    const member: Member = { listener: undefined, owned: [], dead: false, reads: [] };
    this.members.set(name, member);
    const shared = this.shared;
    const alive = () => {
      if (member.dead) throw new Error(`member ${name} is dead`);
    };
    return {
      async append(stream: string, records: readonly AppendRecord[]): Promise<void> {
        alive();
        await shared.append(stream, records);
      },
      async partitions(stream: string): Promise<string[]> {
        alive();
        return shared.partitions(stream);
      },
      async read(stream: string, partition: string, after: string | null, max: number): Promise<StreamRecord[]> {
        alive();
        member.reads.push({ stream, partition, after });
        return shared.read(stream, partition, after, max);
      },
      async backlog(stream: string, partition: string, after: string | null): Promise<number | null> {
        alive();
        return shared.backlog(stream, partition, after);
      },
      async committed(group: string, stream: string): Promise<Map<string, string>> {
        alive();
        return shared.committed(group, stream);
      },
      async commit(group: string, stream: string, positions: ReadonlyMap<string, string>): Promise<void> {
        alive();
        await shared.commit(group, stream, positions);
      },
      async joinGroup(_group: string, _stream: string, listener: GroupListener): Promise<GroupMembership> {
        alive();
        member.listener = listener;
        return {
          owned: () => [...member.owned],
          leave: async () => {
            const gone = member.owned;
            member.owned = [];
            if (gone.length > 0) await listener.revoked(gone);
          },
        };
      },
      // The shared log belongs to the test.
      async close(): Promise<void> {},
    };
  }

  /** Gives `partitions` to member `name` (which loads their checkpoints before this resolves). */
  async assign(name: string, partitions: string[]): Promise<void> {
    const member = this.member(name);
    member.owned.push(...partitions);
    await member.listener!.assigned(partitions);
  }

  /** Takes `partitions` away from member `name`, letting it finish and checkpoint them (a rebalance). */
  async revoke(name: string, partitions: string[]): Promise<void> {
    const member = this.member(name);
    member.owned = member.owned.filter((p) => !partitions.includes(p));
    await member.listener!.revoked(partitions);
  }

  /** Member `name` dies without a word; returns the partitions it owned, now free. */
  kill(name: string): string[] {
    const member = this.member(name);
    member.dead = true;
    const orphaned = member.owned;
    member.owned = [];
    return orphaned;
  }

  /** The reads member `name` made, in order. */
  readsOf(name: string): readonly { stream: string; partition: string; after: string | null }[] {
    return this.member(name).reads;
  }

  private member(name: string): Member {
    const member = this.members.get(name);
    if (member === undefined) throw new Error(`no member ${name}`);
    return member;
  }
}
