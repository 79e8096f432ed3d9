import {
  deadLetter,
  deadLetterFor,
  encodeEnvelope,
  parseMessage,
  showMessage,
  showValue,
  STREAMS,
  type DeadLetterEnvelope,
  type FieldError,
  type ParsedMessage,
} from '@meterstream/contracts';
import type { AppendRecord, StreamLog } from '@meterstream/stream';

/** One message as it arrived: its topic and its bytes, exactly (MQTT, or an IoT rule's record). */
export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  /**
   * When it arrived (epoch ms), if the transport recorded it: IoT Core's receive time in a topic
   * rule's record. The contract's arrival bounds and the stored ingest time use it, so a record
   * read again after a crash is stored exactly as the first time. Absent (MQTT): the batch's time.
   */
  receivedAt?: number;
  /** Refused before the contract saw it (a raw record that is not a message at all): dead-lettered with this. */
  rejection?: FieldError;
}

export interface IngestCounters {
  /** Readings stored in `readings`. */
  readings: number;
  /** Dead letters stored in `dead-letters` (contract rejections and messages that could not be stored). */
  deadLetters: number;
  /** Calls of ingest() that completed. */
  batches: number;
  /** Messages the log refused to store, dead-lettered as "could not be stored" instead. */
  storeFailures: number;
}

export interface IngestOptions {
  /** Readings stamped further than this ahead of their arrival are rejected. */
  maxFutureSkewMs: number;
  /** Readings stamped before this instant (epoch ms) are rejected (default 2000-01-01T00:00:00Z). */
  earliestEventTime?: number;
  /** Largest payload accepted, in bytes (default 256 KiB). */
  maxPayloadBytes?: number;
  /** Deepest JSON nesting accepted (default 16; a reading is 1, a concentrator batch 2). */
  maxDepth?: number;
  now?: () => number;
}

/** A message turned into what is to be stored for it; `readingsStored` survives a retry of its half. */
interface Prepared {
  message: IncomingMessage;
  readings: AppendRecord[];
  letter: AppendRecord | undefined;
  /** For a replacement dead letter: whose device, and which contract errors it also carries. */
  parsed: ParsedMessage | undefined;
  readingsStored: boolean;
}

/**
 * Ingest, free of MQTT (the embedded broker and the external-broker bridge both use it): validates a batch of messages and appends the readings to
 * `readings` and everything invalid to `dead-letters` with its reason and raw bytes. The batch is
 * acknowledged to the broker only after this resolves, so it must not resolve before every
 * message is durably stored, as readings or as a dead letter.
 *
 * No single message can stop the flow: one that breaks the parser becomes a dead letter, and a
 * batch the log refuses is split in halves until the messages it refuses are found. Those are
 * dead-lettered as "could not be stored" only when the rest of the batch was stored — proof that
 * the log works and refuses just them (a poison record must not block the line forever, but a
 * log that is briefly busy must not turn valid readings into dead letters). When nothing could be
 * stored, or even the dead letter is refused, ingest() rejects and the caller retries later
 * without acknowledging (the group commit adds newly arrived messages to the retry, so a lone
 * poison message is isolated as soon as anything else arrives). Parts stored before a rejection
 * are not stored again within the call; a retry may store them twice, under the same ids.
 */
export class Ingest {
  readonly counters: IngestCounters = { readings: 0, deadLetters: 0, batches: 0, storeFailures: 0 };

  constructor(
    private readonly log: StreamLog,
    private readonly options: IngestOptions,
  ) {}

  async ingest(messages: readonly IncomingMessage[]): Promise<void> {
    const ingestTime = (this.options.now ?? Date.now)();
    const prepared = messages.map((message) => this.prepare(message, ingestTime));
    const refused: { prepared: Prepared; cause: unknown }[] = [];
    // While nothing is stored, a few failed appends more than one path down the halves mean the
    // log is down, not that messages are bad: give up then instead of trying every message.
    const progress = { stored: false, failures: 0, failureBudget: 2 * Math.ceil(Math.log2(prepared.length + 1)) + 2 };
    await this.store(prepared, refused, progress);
    if (refused.length > 0) {
      if (!progress.stored) {
        const cause = refused[0].cause;
        throw new Error(`the stream log stored none of the batch; it looks unavailable: ${describe(cause)}`, { cause });
      }
      for (const r of refused) await this.storeAsUnstorable(r.prepared, r.cause, ingestTime);
    }
    this.counters.batches++;
  }

  private prepare(message: IncomingMessage, batchTime: number): Prepared {
    const ingestTime = message.receivedAt ?? batchTime;
    if (message.rejection) {
      return { message, readings: [], letter: toRecord(letterWithReason(asReceived(message), [message.rejection], ingestTime, null)), parsed: undefined, readingsStored: false };
    }
    try {
      // A message holds one reading (a meter) or an array of them (a data concentrator).
      const parsed = parseMessage(message.topic, message.payload, {
        ingestTime,
        maxFutureSkewMs: this.options.maxFutureSkewMs,
        earliestEventTime: this.options.earliestEventTime,
        maxPayloadBytes: this.options.maxPayloadBytes,
        maxDepth: this.options.maxDepth,
      });
      const readings = parsed.readings.map((envelope) => ({ key: envelope.lineId, value: encodeEnvelope(envelope) }));
      const letter = deadLetterFor(message.topic, message.payload, parsed, ingestTime);
      return { message, readings, letter: letter && toRecord(letter), parsed, readingsStored: false };
    } catch (err) {
      // parseMessage never throws by contract; this is the last line of defence should it ever.
      const error = { field: '(payload)', message: `internal error while parsing: ${describe(err)}` };
      return { message, readings: [], letter: toRecord(letterWithReason(asReceived(message), [error], ingestTime, null)), parsed: undefined, readingsStored: false };
    }
  }

  /**
   * Stores the batch's readings, then its dead letters; on a refusal, each half on its own, down
   * to single messages, which are collected in `refused`.
   */
  private async store(batch: Prepared[], refused: { prepared: Prepared; cause: unknown }[], progress: { stored: boolean; failures: number; failureBudget: number }): Promise<void> {
    if (!progress.stored && progress.failures > progress.failureBudget) {
      refused.push(...batch.map((prepared) => ({ prepared, cause: refused[0]?.cause })));
      return;
    }
    const pending = batch.filter((p) => !p.readingsStored);
    const readings = pending.flatMap((p) => p.readings);
    const letters = batch.flatMap((p) => (p.letter ? [p.letter] : []));
    try {
      if (readings.length > 0) {
        await this.log.append(STREAMS.readings, readings);
        progress.stored = true;
      }
      for (const p of pending) p.readingsStored = true;
      this.counters.readings += readings.length;
      if (letters.length > 0) {
        await this.log.append(STREAMS.deadLetters, letters);
        progress.stored = true;
      }
      this.counters.deadLetters += letters.length;
    } catch (err) {
      // The store itself is unavailable: splitting would repeat the failure per half (each
      // SQLITE_BUSY waits out the busy timeout), so give up at once; the caller retries.
      if (isStoreUnavailable(err)) throw new Error(`the stream log looks unavailable: ${describe(err)}`, { cause: err });
      progress.failures++;
      if (batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.store(batch.slice(0, half), refused, progress);
        await this.store(batch.slice(half), refused, progress);
        return;
      }
      refused.push({ prepared: batch[0], cause: err });
    }
  }

  /**
   * The log refused one message's records: keep its bytes as a dead letter saying so. Throws (the
   * log is down, the caller must retry) if that cannot be stored either.
   */
  private async storeAsUnstorable(p: Prepared, cause: unknown, ingestTime: number): Promise<void> {
    const reason = `could not be stored: ${describe(cause)}`;
    const rejections = p.parsed?.rejections ?? [];
    // Keep the contract's findings too; which elements were ingested is only true if the readings were.
    const errors: FieldError[] = [{ field: '(store)', message: reason }, ...(p.message.rejection ? [p.message.rejection] : []), ...rejections.flatMap((r) => r.errors)];
    const rejectedIndexes = p.readingsStored && p.letter ? rejections.flatMap((r) => (r.batch ? [r.batch.index] : [])) : [];
    const ids = [...(p.parsed?.readings ?? []).map((r) => r.deviceId), ...rejections.map((r) => r.deviceId)];
    const letter = letterWithReason(p.message, errors, p.message.receivedAt ?? ingestTime, ids.length === 1 ? ids[0] : null, rejectedIndexes);
    try {
      await this.log.append(STREAMS.deadLetters, [toRecord(letter)]);
    } catch (err) {
      throw new Error(`the stream log refused a message and then its dead letter; the log looks down: ${describe(err)}`, { cause: err });
    }
    this.counters.deadLetters++;
    this.counters.storeFailures++;
  }
}

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether an append failed because the store is unavailable, whatever the records: SQLite busy,
 * locked, I/O, full or read-only; kafkajs's retriable errors; the AWS SDK's retryable ones; the
 * network. Anything else may be about the records themselves, and the batch is split to find them.
 */
export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; retriable?: unknown; $retryable?: unknown } | null | undefined;
  if (typeof e?.code === 'string') {
    if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN|NOMEM|PROTOCOL)/.test(e.code)) return true;
    if (NETWORK_ERRORS.has(e.code)) return true;
  }
  return e?.retriable === true || (e?.$retryable !== undefined && e?.$retryable !== null);
}

function toRecord(letter: DeadLetterEnvelope): AppendRecord {
  return { key: letter.lineId, value: encodeEnvelope(letter) };
}

/** A dead letter whose reason is the first error alone (not "field: message" of every error). */
function letterWithReason(message: IncomingMessage, errors: FieldError[], ingestTime: number, deviceId: string | null, rejectedIndexes: number[] = []): DeadLetterEnvelope {
  const letter = deadLetter(message.topic, message.payload, errors, ingestTime, deviceId, rejectedIndexes.length > 0 ? rejectedIndexes : undefined);
  letter.body.reason = errors[0].message;
  return letter;
}

/** The message with a string topic and Buffer bytes, whatever a transport handed over, so its dead letter can be built. */
function asReceived(message: IncomingMessage): IncomingMessage {
  const topic = typeof message?.topic === 'string' ? message.topic : '(no topic)';
  const payload: unknown = message?.payload;
  return { topic, payload: Buffer.isBuffer(payload) ? payload : payload instanceof Uint8Array ? Buffer.from(payload) : Buffer.alloc(0) };
}

function describe(err: unknown): string {
  try {
    return showMessage(err instanceof Error ? err.message : showValue(err));
  } catch {
    return '(an error that cannot be shown)';
  }
}
