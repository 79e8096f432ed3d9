import type { AppendRecord, GroupListener, GroupMembership, PartitionCheckpointStore, StreamLog, StreamRecord } from '@meterstream/stream';

/** The error injected faults throw, so a test can tell them from real failures. */
export class InjectedFault extends Error {}

/**
 * The shared log, with appends that fail on demand: failAppendsAfter(n) lets n more appends
 * through and fails every one after that (a process dying mid-write, or a broker going away).
 */
export class FaultyStreamLog implements StreamLog {
  private appendsLeft = Infinity;

  constructor(private readonly inner: StreamLog) {}

  failAppendsAfter(appends: number): void {
    this.appendsLeft = appends;
  }

  heal(): void {
    this.appendsLeft = Infinity;
  }

  async append(stream: string, records: readonly AppendRecord[]): Promise<void> {
    if (this.appendsLeft <= 0) throw new InjectedFault(`append to ${stream} failed (injected)`);
    this.appendsLeft--;
    await this.inner.append(stream, records);
  }
  partitions(stream: string): Promise<string[]> {
    return this.inner.partitions(stream);
  }
  read(stream: string, partition: string, after: string | null, max: number): Promise<StreamRecord[]> {
    return this.inner.read(stream, partition, after, max);
  }
  backlog(stream: string, partition: string, after: string | null): Promise<number | null> {
    return this.inner.backlog(stream, partition, after);
  }

  committed(group: string, stream: string): Promise<Map<string, string>> {
    return this.inner.committed(group, stream);
  }
  commit(group: string, stream: string, positions: ReadonlyMap<string, string>): Promise<void> {
    return this.inner.commit(group, stream, positions);
  }
  joinGroup(group: string, stream: string, listener: GroupListener): Promise<GroupMembership> {
    return this.inner.joinGroup(group, stream, listener);
  }
  // The shared log belongs to the test.
  async close(): Promise<void> {}
}

/** The shared checkpoint store, with saves that fail on demand (failSavesAfter, like FaultyStreamLog). */
export class FaultyCheckpointStore implements PartitionCheckpointStore {
  private savesLeft = Infinity;
  saves = 0;

  constructor(private readonly inner: PartitionCheckpointStore) {}

  failSavesAfter(saves: number): void {
    this.savesLeft = saves;
  }

  heal(): void {
    this.savesLeft = Infinity;
  }

  load(group: string, partition: string): Promise<string | null> {
    return this.inner.load(group, partition);
  }

  async save(group: string, partition: string, checkpoint: string): Promise<void> {
    if (this.savesLeft <= 0) throw new InjectedFault(`checkpoint save of partition ${partition} failed (injected)`);
    this.savesLeft--;
    await this.inner.save(group, partition, checkpoint);
    this.saves++;
  }

  async close(): Promise<void> {}
}
