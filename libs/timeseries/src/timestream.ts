import {
  CreateDatabaseCommand,
  CreateTableCommand,
  DescribeDatabaseCommand,
  DescribeTableCommand,
  TimestreamWriteClient,
  WriteRecordsCommand,
  type RejectedRecord,
  type TimestreamWriteClientConfig,
} from '@aws-sdk/client-timestream-write';
import { Logger } from '@nestjs/common';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { TimestreamConfig } from '@meterstream/config';
import { readingId, type ReadingEnvelope } from '@meterstream/contracts';
import { classifyRejectedRecords, type RejectedReading } from './rejected-records';
import { DEFAULT_RETRY_POLICY, sdkRetryStrategy, type RetryPolicy } from './retry-policy';
import { TimeSeriesSinkClosedError, type TimeSeriesSink } from './time-series-sink';
import { buildWriteBatches, MAX_RECORDS_PER_WRITE, type TimestreamWriteBatch } from './timestream-records';

type TimestreamCommand = WriteRecordsCommand | DescribeDatabaseCommand | CreateDatabaseCommand | DescribeTableCommand | CreateTableCommand;

/** The part of TimestreamWriteClient the sink uses (a test can hand in a fake). */
export interface TimestreamWriteApi {
  send(command: TimestreamCommand): Promise<unknown>;
  destroy(): void;
}

export interface TimestreamSinkOptions {
  database: string;
  table: string;
  /** Records per WriteRecords call, 1..100 (default 100, Timestream's limit). */
  maxRecordsPerWrite?: number;
  /** `write` flushes by itself once this many readings are buffered (default 1000). */
  maxBufferedReadings?: number;
  /** Retries of the SDK client `fromConfig` builds (a client handed in brings its own). */
  retry?: Partial<RetryPolicy>;
  /** Create the database and table when absent (default true). */
  createIfMissing?: boolean;
  /** Retention of a table this sink creates (defaults: 24 h memory store, 10 years magnetic). */
  tableRetention?: { memoryStoreHours: number; magneticStoreDays: number };
  /** Told about readings Timestream refused for good; the default logs a warning. */
  onRejected?: (rejected: RejectedReading[]) => void;
  /** `close()` destroys the client (set by `fromConfig`, which creates it). */
  ownsClient?: boolean;
}

export interface TimestreamSinkStats {
  /** Records Timestream accepted, duplicates included. */
  written: number;
  /** Of those, records Timestream already held (a replay). */
  duplicates: number;
  /** Records refused for good and reported through `onRejected`. */
  rejected: number;
  /** WriteRecords calls that succeeded or ended in RejectedRecordsException. */
  writeRequests: number;
  /** Retries of throttled or failed calls (by the SDK client; 0 with a client that reports none). */
  retries: number;
}

const DEFAULT_MAX_BUFFERED = 1000;

/**
 * Time-series sink on Amazon Timestream (write API). Buffers readings, unique by (deviceId, event
 * time), and writes them on `flush()` as multi-measure records (measure name `reading`,
 * measures voltage/current/kw, dimensions deviceId and lineId) in WriteRecords calls of at most
 * 100 records (see `buildWriteBatches`).
 *
 * Idempotence comes from Timestream itself: records are keyed by dimensions, time and measure
 * name, a byte-identical record is accepted as a no-op, and a different record with the same key
 * is rejected with ExistingVersion, which this sink counts as already written (first wins).
 * Other rejections are reported through `onRejected` and dropped: retrying cannot fix them.
 * Throttling, 5xx and dropped connections are retried by the SDK client (see `fromConfig`); if
 * they persist, `flush()` rejects and the unwritten readings stay buffered for the next flush.
 */
export class TimestreamSink implements TimeSeriesSink {
  readonly name = 'timestream';
  private readonly buffer = new Map<string, ReadingEnvelope>();
  private readonly counters: TimestreamSinkStats = { written: 0, duplicates: 0, rejected: 0, writeRequests: 0, retries: 0 };
  private readonly logger = new Logger('TimestreamSink');
  /** Serialises flushes: a flush requested during another one runs after it. */
  private flushChain: Promise<void> = Promise.resolve();
  private tableReady: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly client: TimestreamWriteApi,
    private readonly options: TimestreamSinkOptions,
  ) {}

  /**
   * A sink on the configured database and table. TIMESTREAM_ENDPOINT is for local stand-ins
   * (moto) only. With it, the SDK skips endpoint discovery (it would otherwise call
   * DescribeEndpoints and send every request to the cell endpoint that names, an AWS host moto
   * cannot serve); without it, the SDK discovers the cell endpoint of the real service itself.
   * Do not set `endpointDiscoveryEnabled` alongside an endpoint: the SDK throws on any value.
   * Credentials come from the SDK's default chain, never from here. `requestHandler` replaces the
   * HTTP layer under the client (tests answer as Timestream would, under the SDK's retries).
   */
  static fromConfig(
    config: TimestreamConfig,
    { requestHandler, ...options }: Partial<TimestreamSinkOptions> & Pick<TimestreamWriteClientConfig, 'requestHandler'> = {},
  ): TimestreamSink {
    const endpoint = config.TIMESTREAM_ENDPOINT;
    const client = new TimestreamWriteClient({
      region: config.AWS_REGION,
      retryStrategy: sdkRetryStrategy({ ...DEFAULT_RETRY_POLICY, ...options.retry }),
      ...(endpoint === undefined ? {} : { endpoint, requestHandler: new NodeHttpHandler() }),
      ...(requestHandler === undefined ? {} : { requestHandler }),
    });
    return new TimestreamSink(client, { database: config.TIMESTREAM_DATABASE, table: config.TIMESTREAM_TABLE, ownsClient: true, ...options });
  }

  async write(readings: readonly ReadingEnvelope[]): Promise<void> {
    if (this.closed) throw new TimeSeriesSinkClosedError(this.name);
    for (const reading of readings) {
      const key = readingId(reading.body.deviceId, reading.eventTime);
      // First wins, as in Timestream: a later reading with the same key is a duplicate.
      if (!this.buffer.has(key)) this.buffer.set(key, reading);
    }
    if (this.buffer.size >= (this.options.maxBufferedReadings ?? DEFAULT_MAX_BUFFERED)) await this.flush();
  }

  flush(): Promise<void> {
    const run = this.flushChain.then(() => this.flushBuffered());
    this.flushChain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.flush();
    } finally {
      if (this.options.ownsClient) this.client.destroy();
    }
  }

  /** Readings accepted by `write` and not yet in Timestream. */
  get buffered(): number {
    return this.buffer.size;
  }

  stats(): TimestreamSinkStats {
    return { ...this.counters };
  }

  private async flushBuffered(): Promise<void> {
    if (this.buffer.size === 0) return;
    await this.ensureTable();
    const batches = buildWriteBatches([...this.buffer.values()], this.options.maxRecordsPerWrite ?? MAX_RECORDS_PER_WRITE);
    for (const batch of batches) {
      await this.writeBatch(batch);
      // Only now: a batch that failed stays buffered for the next flush.
      for (const key of batch.keys) this.buffer.delete(readingId(key.deviceId, key.eventTime));
    }
  }

  private async writeBatch(batch: TimestreamWriteBatch): Promise<void> {
    const command = new WriteRecordsCommand({
      DatabaseName: this.options.database,
      TableName: this.options.table,
      CommonAttributes: batch.commonAttributes,
      Records: batch.records,
    });
    try {
      await this.send(command);
      this.counters.writeRequests += 1;
      this.counters.written += batch.records.length;
    } catch (err) {
      if (isNamed(err, 'RejectedRecordsException')) {
        // The records not listed were written; the listed ones would be refused again.
        this.counters.writeRequests += 1;
        const rejectedRecords = (err as { RejectedRecords?: RejectedRecord[] }).RejectedRecords ?? [];
        const outcome = classifyRejectedRecords(rejectedRecords, batch.keys);
        this.counters.duplicates += outcome.duplicates;
        this.counters.rejected += outcome.rejected.length;
        this.counters.written += batch.records.length - outcome.rejected.length;
        if (outcome.rejected.length > 0) this.reportRejected(outcome.rejected);
        return;
      }
      // The table vanished under us: look again (and re-create it) on the next flush.
      if (isNamed(err, 'ResourceNotFoundException')) this.tableReady = undefined;
      throw new Error(`Timestream WriteRecords to ${this.target()} failed: ${describe(err)}`, { cause: err });
    }
  }

  private reportRejected(rejected: RejectedReading[]): void {
    if (this.options.onRejected) {
      this.options.onRejected(rejected);
      return;
    }
    for (const r of rejected) {
      this.logger.warn(`Timestream rejected ${r.deviceId} at ${new Date(r.eventTime).toISOString()} (line ${r.lineId}): ${r.reason}`);
    }
  }

  /** Makes sure the table exists (once per sink, again after it vanished). */
  private ensureTable(): Promise<void> {
    if (this.options.createIfMissing === false) return Promise.resolve();
    this.tableReady ??= this.createTableIfAbsent().catch((err: unknown) => {
      this.tableReady = undefined;
      throw new Error(`could not prepare Timestream table ${this.target()}: ${describe(err)}`, { cause: err });
    });
    return this.tableReady;
  }

  /**
   * Describe first, create only what is missing: production roles may lack the create rights,
   * and moto replaces an existing database (with its tables) on a second CreateDatabase.
   */
  private async createTableIfAbsent(): Promise<void> {
    const { database: DatabaseName, table: TableName } = this.options;
    if (await this.exists(new DescribeTableCommand({ DatabaseName, TableName }))) return;
    if (!(await this.exists(new DescribeDatabaseCommand({ DatabaseName })))) {
      await this.ignoringConflict(new CreateDatabaseCommand({ DatabaseName }));
    }
    const retention = this.options.tableRetention ?? { memoryStoreHours: 24, magneticStoreDays: 3650 };
    await this.ignoringConflict(
      new CreateTableCommand({
        DatabaseName,
        TableName,
        RetentionProperties: {
          MemoryStoreRetentionPeriodInHours: retention.memoryStoreHours,
          MagneticStoreRetentionPeriodInDays: retention.magneticStoreDays,
        },
        // A replay of readings older than the memory store must land in the magnetic store
        // instead of being rejected as out of retention.
        MagneticStoreWriteProperties: { EnableMagneticStoreWrites: true },
      }),
    );
  }

  private async exists(command: DescribeTableCommand | DescribeDatabaseCommand): Promise<boolean> {
    try {
      await this.send(command);
      return true;
    } catch (err) {
      if (isNamed(err, 'ResourceNotFoundException')) return false;
      throw err;
    }
  }

  /** Another writer may create the same database or table at the same time. */
  private async ignoringConflict(command: CreateDatabaseCommand | CreateTableCommand): Promise<void> {
    try {
      await this.send(command);
    } catch (err) {
      if (!isNamed(err, 'ConflictException')) throw err;
    }
  }

  /** One call; counts the retries the SDK client made for it, whatever the outcome. */
  private async send(command: TimestreamCommand): Promise<unknown> {
    try {
      const output = await this.client.send(command);
      this.countRetries(output);
      return output;
    } catch (err) {
      this.countRetries(err);
      throw err;
    }
  }

  private countRetries(outcome: unknown): void {
    const attempts = (outcome as { $metadata?: { attempts?: number } } | null)?.$metadata?.attempts ?? 1;
    this.counters.retries += attempts - 1;
  }

  private target(): string {
    return `${this.options.database}.${this.options.table}`;
  }
}

function isNamed(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === name;
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
}
