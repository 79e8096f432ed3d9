import {
  InternalServerException,
  RejectedRecordsException,
  ResourceNotFoundException,
  ThrottlingException,
  ValidationException,
  type WriteRecordsCommandInput,
} from '@aws-sdk/client-timestream-write';
import { loadConfig } from '@meterstream/config';
import { readingEnvelope } from '@meterstream/test-harness';
import type { RejectedReading } from './rejected-records';
import { TimeSeriesSinkClosedError } from './time-series-sink';
import { TimestreamSink, type TimestreamSinkOptions, type TimestreamWriteApi } from './timestream';

const T0 = Date.parse('2026-11-29T05:00:00.000Z');
// An endpoint of its own spares the SDK Timestream's endpoint discovery; nothing listens there.
const config = loadConfig({ TIMESERIES_BACKEND: 'timestream', AWS_REGION: 'us-east-1', TIMESTREAM_ENDPOINT: 'http://timestream.invalid', TIMESTREAM_DATABASE: 'meterstream', TIMESTREAM_TABLE: 'readings' });
// The SDK signs every request (credentials from its default chain); the fake does not check by whom.
process.env.AWS_ACCESS_KEY_ID = 'unit';
process.env.AWS_SECRET_ACCESS_KEY = 'unit';
const meta = { $metadata: {} };
const notFound = (what: string) => new ResourceNotFoundException({ message: `${what} does not exist`, ...meta });

/**
 * An in-memory Timestream that records every call; `onWrite` can fail a WriteRecords. It answers
 * both as the client a sink can be handed (`send`) and at the HTTP layer under a real SDK client
 * (`handler`, AWS JSON 1.0), where the SDK's own retries run as in production.
 */
class FakeTimestream implements TimestreamWriteApi {
  readonly databases = new Set<string>();
  readonly tables = new Set<string>();
  readonly calls: string[] = [];
  readonly writes: WriteRecordsCommandInput[] = [];
  destroyed = false;
  onWrite: (input: WriteRecordsCommandInput, attempt: number) => Error | undefined = () => undefined;

  readonly handler = {
    handle: async (request: { headers: Record<string, string>; body?: unknown }) => {
      const target = Object.entries(request.headers).find(([name]) => name.toLowerCase() === 'x-amz-target')?.[1] ?? '';
      const body = typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body as Uint8Array);
      try {
        return httpAnswer(200, this.operation(target.split('.')[1], JSON.parse(body)));
      } catch (error) {
        // How Timestream reports an error: the exception's name in __type, its fields beside it.
        const { $metadata, $fault, name, message, ...fields } = error as Error & { $metadata?: { httpStatusCode?: number }; $fault?: string };
        return httpAnswer($metadata?.httpStatusCode ?? ($fault === 'server' ? 500 : 400), { __type: name, message, ...fields });
      }
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };

  async send(command: unknown): Promise<unknown> {
    const { input } = command as { input: Record<string, unknown> };
    return this.operation((command as object).constructor.name.replace(/Command$/, ''), input);
  }

  operation(name: string, input: Record<string, unknown>): unknown {
    this.calls.push(name);
    switch (name) {
      case 'DescribeTable':
        if (!this.tables.has(`${input.DatabaseName}.${input.TableName}`)) throw notFound('table');
        break;
      case 'DescribeDatabase':
        if (!this.databases.has(input.DatabaseName as string)) throw notFound('database');
        break;
      case 'CreateDatabase':
        this.databases.add(input.DatabaseName as string);
        break;
      case 'CreateTable':
        expect(input.MagneticStoreWriteProperties).toEqual({ EnableMagneticStoreWrites: true });
        this.tables.add(`${input.DatabaseName}.${input.TableName}`);
        break;
      case 'WriteRecords': {
        const write = input as unknown as WriteRecordsCommandInput;
        const error = this.onWrite(write, this.calls.filter((c) => c === 'WriteRecords').length);
        if (error) throw error;
        this.writes.push(write);
        break;
      }
      default:
        throw new Error(`fake Timestream does not implement ${name}`);
    }
    return {};
  }

  destroy(): void {
    this.destroyed = true;
  }

  /** Every record written, as "deviceId@time" (deviceId from the record or its common attributes). */
  written(): string[] {
    return this.writes.flatMap((w) =>
      w.Records!.map((r) => {
        const dims = [...(w.CommonAttributes?.Dimensions ?? []), ...(r.Dimensions ?? [])];
        return `${dims.find((d) => d.Name === 'deviceId')!.Value}@${Number(r.Time) - T0}`;
      }),
    );
  }
}

function httpAnswer(statusCode: number, body: unknown) {
  return { response: { statusCode, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: Buffer.from(JSON.stringify(body)) } };
}

function readings(count: number, meters = 3, lineId = 'L07') {
  return Array.from({ length: count }, (_, i) => readingEnvelope(lineId, `m-${i % meters}`, T0 + Math.floor(i / meters) * 1000, { voltage: 118 + (i % 5) }));
}

describe('TimestreamSink', () => {
  let fake: FakeTimestream;
  /** A sink as fromConfig builds it: a real SDK client (with its retries) over the fake's HTTP layer. */
  const sinkWith = (options: Partial<TimestreamSinkOptions> = {}) =>
    TimestreamSink.fromConfig(config, { requestHandler: fake.handler, retry: { attempts: 4, startingDelayMs: 1, maxDelayMs: 2 }, ...options });

  beforeEach(() => {
    fake = new FakeTimestream();
  });

  it('creates the database and table when absent, once, then writes batches of at most 100 records', async () => {
    const sink = sinkWith();
    await sink.write(readings(250));
    expect(fake.calls).toEqual([]);
    await sink.flush();
    expect(fake.calls.slice(0, 4)).toEqual(['DescribeTable', 'DescribeDatabase', 'CreateDatabase', 'CreateTable']);
    expect(fake.writes.map((w) => w.Records!.length)).toEqual([100, 100, 50]);
    expect(fake.writes.every((w) => w.DatabaseName === 'meterstream' && w.TableName === 'readings')).toBe(true);
    expect(new Set(fake.written()).size).toBe(250);

    await sink.write(readings(3));
    await sink.flush();
    expect(fake.calls.filter((c) => c.startsWith('Describe') || c.startsWith('Create'))).toHaveLength(4);
    expect(sink.stats()).toMatchObject({ written: 253, duplicates: 0, rejected: 0, writeRequests: 4 });
  });

  it('only describes an existing table, and touches nothing when createIfMissing is off', async () => {
    fake.databases.add('meterstream');
    fake.tables.add('meterstream.readings');
    const sink = sinkWith();
    await sink.write(readings(1));
    await sink.flush();
    expect(fake.calls).toEqual(['DescribeTable', 'WriteRecords']);

    const other = new FakeTimestream();
    const bare = new TimestreamSink(other, { database: 'd', table: 't', createIfMissing: false });
    await bare.write(readings(1));
    await bare.flush();
    expect(other.calls).toEqual(['WriteRecords']);
  });

  it('buffers until flush, keeps the first reading of a meter at an instant, and flushes by itself when full', async () => {
    const sink = sinkWith({ maxBufferedReadings: 10 });
    const first = readingEnvelope('L07', 'm-1', T0, { voltage: 119 });
    await sink.write([first, readingEnvelope('L07', 'm-1', T0, { voltage: 99 }), first]);
    expect(sink.buffered).toBe(1);
    expect(fake.writes).toEqual([]);

    await sink.write(Array.from({ length: 9 }, (_, i) => readingEnvelope('L07', `x-${i}`, T0, { voltage: 120 })));
    expect(fake.writes).toHaveLength(1);
    expect(sink.buffered).toBe(0);
    const firstRecord = fake.writes[0].Records![0];
    expect(firstRecord.MeasureValues).toEqual([{ Name: 'voltage', Value: '119', Type: 'DOUBLE' }]);
  });

  it('counts records Timestream already holds as written and reports the others once, without retrying them', async () => {
    const reported: RejectedReading[] = [];
    const sink = sinkWith({ onRejected: (r) => reported.push(...r) });
    fake.onWrite = (input, attempt) =>
      attempt === 1
        ? new RejectedRecordsException({
            message: 'One or more records have been rejected.',
            RejectedRecords: [
              { RecordIndex: 0, Reason: 'A record with the same dimensions, time and measure name exists with a higher version.', ExistingVersion: 1 },
              { RecordIndex: 2, Reason: 'The record timestamp is outside the time range of the memory store.' },
            ],
            ...meta,
          })
        : undefined;
    const batch = readings(4, 4);
    await sink.write(batch);
    await sink.flush();

    expect(fake.calls.filter((c) => c === 'WriteRecords')).toHaveLength(1);
    expect(reported).toEqual([{ deviceId: 'm-2', lineId: 'L07', eventTime: T0, reason: 'The record timestamp is outside the time range of the memory store.' }]);
    expect(sink.stats()).toMatchObject({ written: 3, duplicates: 1, rejected: 1, retries: 0 });
    expect(sink.buffered).toBe(0);
    await sink.flush();
    expect(fake.calls.filter((c) => c === 'WriteRecords')).toHaveLength(1);
  });

  it('retries a throttled write with backoff and then succeeds', async () => {
    const sink = sinkWith();
    fake.onWrite = (_input, attempt) => (attempt <= 2 ? new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', ...meta }) : undefined);
    await sink.write(readings(5));
    await sink.flush();
    expect(fake.calls.filter((c) => c === 'WriteRecords')).toHaveLength(3);
    expect(fake.written()).toHaveLength(5);
    expect(sink.stats()).toMatchObject({ written: 5, retries: 2, writeRequests: 1 });
  });

  it('keeps what it could not write buffered when failures persist, and writes it on a later flush', async () => {
    const sink = sinkWith({ maxRecordsPerWrite: 2 });
    let down = false;
    fake.onWrite = () => (down ? new InternalServerException({ message: 'Internal error', Message: 'Internal error', ...meta }) : undefined);
    await sink.write(readings(3, 3));
    await sink.flush();
    await sink.write(readings(6, 3).slice(3));
    down = true;
    const writesBefore = fake.calls.filter((c) => c === 'WriteRecords').length;
    await expect(sink.flush()).rejects.toThrow('Timestream WriteRecords to meterstream.readings failed: InternalServerException: Internal error');
    // The first batch of the flush, tried as often as the retry policy allows (4 attempts), then given up.
    expect(fake.calls.filter((c) => c === 'WriteRecords').length - writesBefore).toBe(4);
    expect(sink.stats().retries).toBe(3);
    expect(sink.buffered).toBe(3);
    down = false;
    await sink.flush();
    expect(sink.buffered).toBe(0);
    expect(fake.written().sort()).toEqual(['m-0@0', 'm-0@1000', 'm-1@0', 'm-1@1000', 'm-2@0', 'm-2@1000']);
  });

  it('does not retry what the request itself caused', async () => {
    const sink = sinkWith();
    fake.onWrite = () => new ValidationException({ message: 'Invalid measure value', Message: 'Invalid measure value', ...meta });
    await sink.write(readings(2));
    await expect(sink.flush()).rejects.toThrow('ValidationException: Invalid measure value');
    expect(fake.calls.filter((c) => c === 'WriteRecords')).toHaveLength(1);
    expect(sink.stats().retries).toBe(0);
    expect(sink.buffered).toBe(2);
  });

  it('prepares the table again after it vanished', async () => {
    const sink = sinkWith();
    await sink.write(readings(1));
    await sink.flush();
    fake.tables.clear();
    fake.onWrite = (input) => (fake.tables.has(`${input.DatabaseName}.${input.TableName}`) ? undefined : notFound('table'));
    await sink.write(readings(2, 2).slice(1));
    await expect(sink.flush()).rejects.toThrow('ResourceNotFoundException');
    await sink.flush();
    expect(fake.calls.filter((c) => c === 'CreateTable')).toHaveLength(2);
    expect(sink.buffered).toBe(0);
  });

  it('flushes on close, destroys a client it owns, and refuses writes afterwards', async () => {
    const sink = new TimestreamSink(fake, { database: 'meterstream', table: 'readings', ownsClient: true });
    await sink.write(readings(2));
    await sink.close();
    expect(fake.written()).toHaveLength(2);
    expect(fake.destroyed).toBe(true);
    await expect(sink.write(readings(1))).rejects.toBeInstanceOf(TimeSeriesSinkClosedError);

    const borrowed = new FakeTimestream();
    await new TimestreamSink(borrowed, { database: 'd', table: 't' }).close();
    expect(borrowed.destroyed).toBe(false);
  });
});
