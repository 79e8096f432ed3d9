import { isDeepStrictEqual } from 'node:util';
import type { Client, estypes } from '@elastic/elasticsearch';
import { backOff } from 'exponential-backoff';
import { applyLineDelta, combineLineDeltas, foldAlertEvents, type AlertChange, type AlertDocument, type LineDelta, type LineDocument } from './documents';
import { classifyItem, describeRequestError, isRetryableRequestError, type WriteKind } from './retry';

/**
 * One document write, as apply() queues it:
 * - `create`: an insert-once document (reading, aggregate, dead letter);
 * - `alert`: alert events and operators' commands to fold into the stored alert, in the order they were applied;
 * - `line`: a line delta to merge into the stored line document.
 * Alerts and lines are read-modify-write with optimistic concurrency (if_seq_no/if_primary_term)
 * rather than painless scripts: the distribution on Maven Central (integ-test-zip) ships without
 * the painless module, and the merge rules then live in one tested TypeScript function.
 */
export type WriteOperation =
  | { type: 'create'; index: string; id: string; document: object }
  | { type: 'alert'; index: string; id: string; events: AlertChange[] }
  | { type: 'line'; index: string; id: string; delta: LineDelta };

/** A document Elasticsearch refused for good (not retried). */
export interface IndexingFailure {
  index: string;
  id: string;
  /** HTTP status of the item, or of the whole request when it failed as a whole. */
  status: number;
  error: string;
}

/** flush() rejects with this when documents applied before it were refused for good. */
export class ElasticsearchIndexingError extends Error {
  constructor(readonly failures: IndexingFailure[]) {
    const shown = failures.slice(0, 5).map((f) => `[${f.index}/${f.id}] ${f.status} ${f.error}`);
    const more = failures.length > shown.length ? `; and ${failures.length - shown.length} more` : '';
    super(`Elasticsearch refused ${failures.length} document(s), not retried: ${shown.join('; ')}${more}`);
    this.name = 'ElasticsearchIndexingError';
  }
}

export interface WriterLogger {
  warn(message: string): void;
  error(message: string): void;
}

export interface BulkWriterOptions {
  /** apply() waits (back-pressure) while this many documents are buffered or in flight. Default 20 000. */
  maxBufferedDocuments?: number;
  /** Documents per bulk request. Default 1 000. */
  bulkMaxDocuments?: number;
  /** Bytes of documents per bulk request. Default 5 MiB. */
  bulkMaxBytes?: number;
  /** Exponential backoff (full jitter) between attempts while anything is left to write. */
  retryStartingDelayMs?: number;
  retryMaxDelayMs?: number;
  logger?: WriterLogger;
}

interface Hooks {
  /** Runs before every attempt: installs templates once, creates the indices about to be written. */
  beforeWrite(indices: ReadonlySet<string>): Promise<void>;
}

/** The writes applied between two hand-overs to the flusher; one entry per document. */
class Generation {
  readonly ops = new Map<string, WriteOperation>();
  constructor(readonly number: number) {}

  /** Coalesces writes to the same document, so a generation never sends one document twice. */
  add(op: WriteOperation): void {
    const key = `${op.index}\u0000${op.id}`;
    const existing = this.ops.get(key);
    if (existing === undefined) {
      this.ops.set(key, op.type === 'alert' ? { ...op, events: [...op.events] } : op);
    } else if (existing.type === 'alert' && op.type === 'alert') {
      existing.events.push(...op.events);
    } else if (existing.type === 'line' && op.type === 'line') {
      this.ops.set(key, { ...existing, delta: combineLineDeltas(existing.delta, op.delta) });
    }
    // create: the first write wins, as INSERT OR IGNORE.
  }
}

/** A bulk line pair ready to send, with what to do with its outcome. */
interface PreparedWrite {
  key: string;
  kind: WriteKind;
  index: string;
  id: string;
  action: string;
  source: string;
}

class RetryLater extends Error {}

/**
 * The buffered, retrying writer behind ElasticsearchReadModel.apply()/flush().
 *
 * apply() adds to the pending generation and returns at once unless the buffer is full. One
 * generation at a time is written (so two writes to the same document can never overtake each
 * other); while it is in flight the next one collects, which batches naturally under load. A
 * generation is retried, with exponential backoff and without limit, until every document in it
 * is either written or refused for good: an outage therefore makes flush() wait, never fail, and
 * ids make every retry idempotent (a create that already happened answers 409 = done; a merge
 * re-reads the stored document and merges again).
 */
export class BulkWriter {
  private pending = new Generation(1);
  private inFlight: Generation | undefined;
  private completed = 0;
  private running: Promise<void> | undefined;
  private waiters: (() => void)[] = [];
  private failures: IndexingFailure[] = [];
  /** Indices written since the last refresh. */
  private readonly touched = new Set<string>();
  private readonly maxBuffered: number;
  private readonly bulkMaxDocuments: number;
  private readonly bulkMaxBytes: number;
  private readonly startingDelay: number;
  private readonly maxDelay: number;
  private readonly logger: WriterLogger;

  constructor(
    private readonly client: Client,
    private readonly hooks: Hooks,
    options: BulkWriterOptions = {},
  ) {
    this.maxBuffered = Math.max(1, options.maxBufferedDocuments ?? 20_000);
    this.bulkMaxDocuments = Math.max(1, options.bulkMaxDocuments ?? 1_000);
    this.bulkMaxBytes = Math.max(1, options.bulkMaxBytes ?? 5 * 1024 * 1024);
    this.startingDelay = options.retryStartingDelayMs ?? 100;
    this.maxDelay = options.retryMaxDelayMs ?? 5_000;
    this.logger = options.logger ?? consoleLogger;
  }

  /** Documents buffered or in flight. */
  get buffered(): number {
    return this.pending.ops.size + (this.inFlight?.ops.size ?? 0);
  }

  /** Queues writes; waits only while the buffer is full. */
  async add(ops: Iterable<WriteOperation>): Promise<void> {
    for (const op of ops) {
      while (this.buffered >= this.maxBuffered) {
        this.kick();
        await this.changed();
      }
      this.pending.add(op);
    }
    this.kick();
  }

  /**
   * Resolves once everything added before the call is written and refreshed (searchable);
   * rejects with ElasticsearchIndexingError when documents were refused for good since the
   * last flush (each is also logged when it happens).
   */
  async flush(): Promise<void> {
    const target = this.pending.ops.size > 0 ? this.pending.number : (this.inFlight?.number ?? this.completed);
    this.kick();
    while (this.completed < target) await this.changed();
    await this.refresh();
    if (this.failures.length > 0) throw new ElasticsearchIndexingError(this.failures.splice(0));
  }

  /** Starts the flusher unless it runs; it stops when nothing is pending. */
  private kick(): void {
    if (this.running || this.pending.ops.size === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.ops.size > 0) {
      const generation = this.pending;
      this.pending = new Generation(generation.number + 1);
      this.inFlight = generation;
      await this.write(generation);
      this.inFlight = undefined;
      this.completed = generation.number;
      this.notify();
    }
  }

  /** Writes a generation until nothing is left in it. Never throws: what cannot be written is a failure. */
  private async write(generation: Generation): Promise<void> {
    try {
      await backOff(() => this.attempt(generation), {
        numOfAttempts: Number.POSITIVE_INFINITY,
        startingDelay: this.startingDelay,
        maxDelay: this.maxDelay,
        timeMultiple: 2,
        jitter: 'full',
        retry: (err: unknown, attempt: number) => {
          if (!(err instanceof RetryLater)) return false;
          // First failure and then every tenth: an outage of minutes stays readable in the log.
          if (attempt === 2 || attempt % 10 === 0) {
            this.logger.warn(`Elasticsearch write attempt ${attempt - 1} incomplete (${err.message}); ${generation.ops.size} document(s) waiting, retrying with backoff`);
          }
          return true;
        },
      });
    } catch (err) {
      const error = describeRequestError(err);
      for (const op of generation.ops.values()) this.fail(op.index, op.id, 0, error);
      generation.ops.clear();
    }
  }

  /** One pass over what is left of a generation; throws RetryLater when something must be sent again. */
  private async attempt(generation: Generation): Promise<void> {
    if (generation.ops.size === 0) return;
    const writes = await retryable(async () => {
      await this.hooks.beforeWrite(new Set([...generation.ops.values()].map((op) => op.index)));
      return this.prepare(generation);
    });
    let reason = '';
    for (const chunk of this.chunks(writes)) {
      let response: estypes.BulkResponse;
      try {
        response = await this.client.bulk({ operations: chunk.flatMap((w) => [w.action, w.source]) as never[] }, { maxRetries: 0 });
      } catch (err) {
        if (isRetryableRequestError(err)) throw new RetryLater(describeRequestError(err));
        for (const w of chunk) {
          generation.ops.delete(w.key);
          this.fail(w.index, w.id, (err as { statusCode?: number }).statusCode ?? 0, describeRequestError(err));
        }
        continue;
      }
      response.items.forEach((item, i) => {
        const w = chunk[i];
        const result = Object.values(item)[0] as estypes.BulkResponseItem;
        const outcome = classifyItem(w.kind, result.status);
        if (outcome === 'retry') {
          reason = `${w.id}: ${result.status} ${result.error?.type ?? ''}`;
          return;
        }
        generation.ops.delete(w.key);
        if (outcome === 'done') this.touched.add(w.index);
        else this.fail(w.index, w.id, result.status, `${result.error?.type ?? 'error'}: ${result.error?.reason ?? JSON.stringify(result.error)}`);
      });
      this.notify();
    }
    if (generation.ops.size > 0) throw new RetryLater(reason || `${generation.ops.size} document(s) not yet accepted`);
  }

  /**
   * Turns the operations into bulk lines. Creates go as they are; merges read the stored
   * documents first (one mget) and go as a conditional index (or a create when missing), or not
   * at all when merging changes nothing (e.g. a replayed event).
   */
  private async prepare(generation: Generation): Promise<PreparedWrite[]> {
    const writes: PreparedWrite[] = [];
    const merges: [string, Extract<WriteOperation, { type: 'alert' | 'line' }>][] = [];
    for (const [key, op] of generation.ops) {
      if (op.type === 'create') {
        writes.push({ key, kind: 'create', index: op.index, id: op.id, action: JSON.stringify({ create: { _index: op.index, _id: op.id } }), source: JSON.stringify(op.document) });
      } else {
        merges.push([key, op]);
      }
    }
    if (merges.length === 0) return writes;
    const stored = await this.client.mget<LineDocument | AlertDocument>(
      { docs: merges.map(([, op]) => ({ _index: op.index, _id: op.id })) },
      { maxRetries: 0 },
    );
    stored.docs.forEach((entry, i) => {
      const [key, op] = merges[i];
      let current: (LineDocument | AlertDocument) | undefined;
      let condition: { if_seq_no: number; if_primary_term: number } | undefined;
      if ('error' in entry) {
        // A missing index is a missing document; anything else (a shard not ready): next attempt.
        if (entry.error.type !== 'index_not_found_exception') return;
      } else if (entry.found) {
        current = entry._source;
        condition = { if_seq_no: entry._seq_no!, if_primary_term: entry._primary_term! };
      }
      const merged = op.type === 'alert' ? foldAlertEvents(current as AlertDocument | undefined, op.events) : applyLineDelta(current as LineDocument | undefined, op.delta);
      if (merged === undefined || (current !== undefined && isDeepStrictEqual(merged, current))) {
        generation.ops.delete(key);
        // Already as it should be, perhaps by an attempt whose answer was lost: still refresh it.
        this.touched.add(op.index);
        return;
      }
      const action = condition ? { index: { _index: op.index, _id: op.id, ...condition } } : { create: { _index: op.index, _id: op.id } };
      writes.push({ key, kind: 'merge', index: op.index, id: op.id, action: JSON.stringify(action), source: JSON.stringify(merged) });
    });
    return writes;
  }

  private *chunks(writes: PreparedWrite[]): Generator<PreparedWrite[]> {
    let chunk: PreparedWrite[] = [];
    let bytes = 0;
    for (const w of writes) {
      const size = w.action.length + w.source.length + 2;
      if (chunk.length > 0 && (chunk.length >= this.bulkMaxDocuments || bytes + size > this.bulkMaxBytes)) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push(w);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }

  /**
   * Makes what was written searchable: one explicit refresh per flush() of just the indices
   * written since the last one, instead of `refresh=wait_for` on every bulk (which would make
   * each background write wait for a refresh). Between flushes, writes become visible with the
   * indices' own refresh interval (1 s by default).
   */
  private async refresh(): Promise<void> {
    if (this.touched.size === 0) return;
    const indices = [...this.touched];
    this.touched.clear();
    try {
      await backOff(
        async () => {
          // In slices: many daily indices would make a very long URL.
          for (let i = 0; i < indices.length; i += 50) {
            await retryable(() => this.client.indices.refresh({ index: indices.slice(i, i + 50), ignore_unavailable: true, allow_no_indices: true }, { maxRetries: 0 }));
          }
        },
        { numOfAttempts: Number.POSITIVE_INFINITY, startingDelay: this.startingDelay, maxDelay: this.maxDelay, jitter: 'full', retry: (err) => err instanceof RetryLater },
      );
    } catch (err) {
      for (const index of indices) this.touched.add(index);
      throw err;
    }
  }

  private fail(index: string, id: string, status: number, error: string): void {
    const failure = { index, id, status, error };
    this.failures.push(failure);
    this.logger.error(`Elasticsearch refused [${index}/${id}] (${status}), not retried: ${error}`);
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Runs a request, turning a transient failure into RetryLater (a permanent one propagates). */
async function retryable<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (err) {
    if (err instanceof RetryLater || !isRetryableRequestError(err)) throw err;
    throw new RetryLater(describeRequestError(err));
  }
}

const consoleLogger: WriterLogger = {
  warn: (message) => console.warn(`[read-model/elasticsearch] ${message}`),
  error: (message) => console.error(`[read-model/elasticsearch] ${message}`),
};
