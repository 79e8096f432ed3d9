/**
 * Group commit: items submitted while a commit is under way form the next batch, so one durable
 * write (one fsync) acknowledges thousands of messages. Each item's `done` runs only after the
 * batch holding it committed — the hook for sending a PUBACK only for what is durable.
 *
 * A failing commit is retried with capped exponential backoff and its items are never reported
 * done meanwhile: when the store is down or wedged, nothing is acknowledged, and the transport
 * (aedes reads no more from a client whose packets are pending; the subscriber pauses its socket)
 * pushes back on publishers instead of queueing without bound. The commit function itself is
 * responsible for isolating a poison item (the ingest splits a failing batch), so a retry here
 * means the store is unavailable, not that one message is bad.
 */
export interface GroupCommitOptions<T> {
  commit(items: T[]): Promise<void>;
  /** Most items in one commit. */
  maxBatch: number;
  /** Called for each failed attempt (the batch is retried). */
  onError?(err: Error): void;
  retryMinMs?: number;
  retryMaxMs?: number;
}

interface Entry<T> {
  item: T;
  done(err?: Error): void;
}

export class GroupCommit<T> {
  private queue: Entry<T>[] = [];
  private running = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private wakeRetry: (() => void) | undefined;
  private inCommit = 0;
  /** submitted: items queued; committed: items reported done after their batch committed. */
  readonly counters = { submitted: 0, committed: 0, batches: 0, failures: 0 };

  constructor(private readonly options: GroupCommitOptions<T>) {}

  /** Items waiting for a commit, including the batch being committed. */
  get pending(): number {
    return this.queue.length + this.inCommit;
  }

  submit(item: T, done: (err?: Error) => void): void {
    if (this.stopped) return done(new Error('stopping: not committed'));
    this.queue.push({ item, done });
    this.counters.submitted++;
    if (!this.running) {
      this.running = true;
      // Let the rest of the current socket read arrive first, so it joins the same batch.
      setImmediate(() => void this.run());
    }
  }

  /** Forgets queued items (not the batch being committed) that match, without calling done. */
  discard(match: (item: T) => boolean): void {
    this.queue = this.queue.filter((e) => !match(e.item));
  }

  /**
   * Stops taking items: the batch being committed finishes (and is reported done if it commits);
   * queued items are reported failed, so they stay unacknowledged and the publisher resends them.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeRetry?.();
    if (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const left = this.queue.splice(0);
    for (const e of left) report(e, new Error('stopping: not committed'));
  }

  private async run(): Promise<void> {
    const { maxBatch, retryMinMs = 200, retryMaxMs = 5_000 } = this.options;
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.splice(0, maxBatch);
      this.inCommit = batch.length;
      let delay = retryMinMs;
      let error: Error | undefined;
      for (;;) {
        try {
          await this.options.commit(batch.map((e) => e.item));
          error = undefined;
          break;
        } catch (err) {
          error = err as Error;
          this.counters.failures++;
          this.options.onError?.(error);
          if (this.stopped) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, delay);
            this.wakeRetry = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.wakeRetry = undefined;
          delay = Math.min(delay * 2, retryMaxMs);
          // What arrived meanwhile joins the retry: a message the commit isolates and refuses only
          // once something else in its batch is stored is not left waiting alone.
          if (batch.length < maxBatch && this.queue.length > 0) batch.push(...this.queue.splice(0, maxBatch - batch.length));
          this.inCommit = batch.length;
        }
      }
      this.inCommit = 0;
      if (error) {
        // Only when stopping: never report a failed commit as done.
        for (const e of batch) report(e, error);
        break;
      }
      this.counters.batches++;
      this.counters.committed += batch.length;
      for (const e of batch) report(e);
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.running = false;
    this.idleWaiters.splice(0).forEach((w) => w());
  }
}

/**
 * Calls an item's done. A transport's callback runs on (aedes: reads and handles the publisher's
 * next packets synchronously); if it throws, the other items of the batch must still be reported
 * and the commit loop must go on, or their publishers would wait forever. The error is rethrown
 * afterwards (uncaught, as it would have been), never swallowed.
 */
function report<T>(entry: Entry<T>, err?: Error): void {
  try {
    entry.done(err);
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown;
    });
  }
}
