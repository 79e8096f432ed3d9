import { decodeEnvelope, type Envelope } from '@meterstream/contracts';
import type { AppendRecord, GroupListener, StreamLog } from '@meterstream/stream';

/**
 * A fault-injection seam for tests: a real stream log that refuses every append holding a record
 * the predicate picks (as a store refuses a record it cannot take), and counts the appends.
 */
export class FaultyStreamLog implements StreamLog {
  appends = 0;

  constructor(
    private readonly inner: StreamLog,
    private readonly refuses: (stream: string, envelope: Envelope) => boolean,
  ) {}

  async append(stream: string, records: readonly AppendRecord[]): Promise<void> {
    this.appends++;
    const refused = records.find((r) => this.refuses(stream, decodeEnvelope(r.value)));
    if (refused) throw new Error(`the test's log refuses ${decodeEnvelope(refused.value).id} on ${stream}`);
    await this.inner.append(stream, records);
  }

  partitions(stream: string) {
    return this.inner.partitions(stream);
  }

  read(stream: string, partition: string, after: string | null, max: number) {
    return this.inner.read(stream, partition, after, max);
  }

  backlog(stream: string, partition: string, after: string | null) {
    return this.inner.backlog(stream, partition, after);
  }

  committed(group: string, stream: string) {
    return this.inner.committed(group, stream);
  }

  commit(group: string, stream: string, positions: ReadonlyMap<string, string>) {
    return this.inner.commit(group, stream, positions);
  }

  joinGroup(group: string, stream: string, listener: GroupListener) {
    return this.inner.joinGroup(group, stream, listener);
  }

  close() {
    return this.inner.close();
  }
}

/** Every record of a stream, all partitions, decoded. */
export async function readEnvelopes<T extends Envelope = Envelope>(log: StreamLog, stream: string): Promise<T[]> {
  const out: T[] = [];
  for (const partition of await log.partitions(stream)) {
    let after: string | null = null;
    for (;;) {
      const records = await log.read(stream, partition, after, 5000);
      if (records.length === 0) break;
      out.push(...records.map((r) => decodeEnvelope<T>(r.value)));
      after = records[records.length - 1].position;
    }
  }
  return out;
}
