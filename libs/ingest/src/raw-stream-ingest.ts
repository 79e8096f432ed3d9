import type { GroupMembership, StreamLog, StreamRecord } from '@meterstream/stream';
import { decodeIotRuleRecord } from './iot-rule-record';
import type { Ingest } from './ingest';

export interface RawStreamIngestOptions {
  /** The raw stream the IoT topic rule writes (a stream of the log: Kinesis `${prefix}${stream}`). */
  stream: string;
  /** Consumer group on the raw stream: the bridges reading it share its partitions and commit their positions under it. */
  group: string;
  /** Most records per poll over all owned partitions (the bridge's BRIDGE_BATCH_MAX): one ingest, one commit. */
  maxRecordsPerPoll: number;
  /** Pause between polls when every owned partition is caught up. */
  idlePollMs: number;
  /** Pause after a failed poll before reading again from the last ingested positions. Default 1000. */
  errorBackoffMs?: number;
  /** Told about failures the loop survives (a poll retried, a commit that failed). */
  onError?: (err: Error) => void;
}

export interface RawStreamIngestCounters {
  /** Raw records read and ingested (records read again after a failed poll count again). */
  records: number;
  /** Of those, records that were not in the IoT rule's shape (each became a dead letter). */
  notRuleRecords: number;
  /** Polls that ingested something. */
  batches: number;
}

/**
 * The ingest bridge's second input: the raw stream an AWS IoT topic rule writes one record per
 * MQTT message to (iot-rule-record.ts). A consumer like any other, through the stream port only —
 * joinGroup, read, commit — so it runs on Kinesis and on the embedded log alike:
 *
 * one poll reads up to maxRecordsPerPoll records after the positions of the owned partitions,
 * decodes each into the message it carries, hands them all to the same Ingest as the MQTT path
 * (contract, readings and dead letters, durable when it resolves), and only then commits the
 * partitions' new positions to the group. So the stored outcome of a record precedes its
 * checkpoint: a crash between the two reads the record again (at least once), and because a
 * reading's id is deviceId@eventTime and a record keeps IoT Core's receive time as its ingest
 * time, the repeat is the same envelope, which the processor counts once. A poll whose ingest
 * fails commits nothing and is read again after a pause.
 *
 * Partitions come and go with the group (on Kinesis a closed shard once drained, a child shard
 * once its parents are): the owned set is read under the same lock as the polls, so a partition
 * is never handed back with a batch of its records in flight.
 */
export class RawStreamIngest {
  readonly counters: RawStreamIngestCounters = { records: 0, notRuleRecords: 0, batches: 0 };
  /** Owned partition -> the position of the last record ingested (null: none yet, read from the oldest retained). */
  private readonly positions = new Map<string, string | null>();
  private chain: Promise<unknown> = Promise.resolve();
  private membership: GroupMembership | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Where the round-robin over owned partitions starts next poll, so no partition waits behind a busy one. */
  private nextStart = 0;

  constructor(
    private readonly log: StreamLog,
    private readonly ingest: Ingest,
    private readonly options: RawStreamIngestOptions,
  ) {
    if (!(options.maxRecordsPerPoll >= 1)) throw new RangeError('maxRecordsPerPoll must be at least 1');
  }

  /** Joins the group: each partition assigned resumes after its committed position. */
  async join(): Promise<void> {
    if (this.membership) return;
    this.membership = await this.log.joinGroup(this.options.group, this.options.stream, {
      assigned: (partitions) => this.locked(() => this.assign(partitions)),
      revoked: async (partitions) => {
        await this.locked(async () => {
          for (const p of partitions) this.positions.delete(p);
        });
      },
    });
  }

  /** Joins and polls in the background until stop(). */
  async start(): Promise<void> {
    await this.join();
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the poll in flight (its positions committed), then leaves the group. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    const membership = this.membership;
    this.membership = undefined;
    await membership?.leave();
  }

  /** The partitions this member reads now. */
  ownedPartitions(): string[] {
    return [...this.positions.keys()];
  }

  /**
   * One poll: read, ingest, commit. Resolves with the number of records ingested (0: caught up);
   * rejects when a read or the ingest failed, with nothing committed (the next poll reads the
   * same records again).
   */
  poll(): Promise<number> {
    return this.locked(() => this.pollOwned());
  }

  private async pollOwned(): Promise<number> {
    const owned = [...this.positions.keys()];
    if (owned.length === 0) return 0;
    const start = this.nextStart++ % owned.length;
    const order = [...owned.slice(start), ...owned.slice(0, start)];
    const share = Math.max(1, Math.floor(this.options.maxRecordsPerPoll / owned.length));
    const read = await Promise.all(order.map((p) => this.log.read(this.options.stream, p, this.positions.get(p) ?? null, share)));
    const records: StreamRecord[] = read.flat();
    if (records.length === 0) return 0;

    const messages = records.map((r) => decodeIotRuleRecord(r.value, r.key, r.appendTime));
    // Durable (readings and dead letters) when this resolves; a rejection leaves the positions where they were.
    await this.ingest.ingest(messages.map((m) => m.message));

    const advanced = new Map<string, string>();
    order.forEach((p, i) => {
      const batch = read[i];
      if (batch.length > 0) advanced.set(p, batch[batch.length - 1].position);
    });
    for (const [p, position] of advanced) this.positions.set(p, position);
    this.counters.records += records.length;
    this.counters.notRuleRecords += messages.filter((m) => !m.ok).length;
    this.counters.batches++;
    try {
      await this.log.commit(this.options.group, this.options.stream, advanced);
    } catch (err) {
      // Stored already: the next poll's commit carries these positions too. A crash before then
      // reads the records again, which at-least-once allows.
      this.report(err, 'committing the raw stream positions failed; the next poll commits them');
    }
    return records.length;
  }

  private async assign(partitions: readonly string[]): Promise<void> {
    const committed = await this.log.committed(this.options.group, this.options.stream);
    for (const p of partitions) if (!this.positions.has(p)) this.positions.set(p, committed.get(p) ?? null);
  }

  private async run(): Promise<void> {
    while (this.running) {
      let ingested: number;
      try {
        ingested = await this.poll();
      } catch (err) {
        this.report(err, 'a raw stream batch could not be ingested; it is read again');
        await this.sleep(this.options.errorBackoffMs ?? 1000);
        continue;
      }
      if (ingested === 0) await this.sleep(this.options.idlePollMs);
      // Yield so shutdown signals, timers and group callbacks are served between polls.
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Runs `task` after everything queued before it: polls and group changes never interleave. */
  private locked<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private report(err: unknown, context: string): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.options.onError?.(new Error(`${context}: ${error.message}`, { cause: error }));
  }
}
