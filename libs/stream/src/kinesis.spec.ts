import {
  ExpiredIteratorException,
  InvalidArgumentException,
  LimitExceededException,
  ProvisionedThroughputExceededException,
  ResourceInUseException,
  ResourceNotFoundException,
  type PutRecordsCommandInput,
  type PutRecordsCommandOutput,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import { loadConfig } from '@meterstream/config';
import { DEFAULT_LEASE_TIMINGS, KINESIS_LIMITS, KinesisStreamLog, LeaseManager, type KinesisStreamLogOptions } from './kinesis';
import type { AppendRecord } from './stream-log';

/**
 * Unit tests against a fake Kinesis at the HTTP layer under a real SDK client (AWS JSON 1.1), so
 * the SDK's serialization, error parsing and retry strategy run as in production. Per-record
 * failures in a PutRecords answer (FailedRecordCount > 0) cannot be produced on demand by
 * kinesalite, which stores every record it is given, so the retry boundary is tested here;
 * kinesis.engine.spec.ts covers the same adapter against kinesalite.
 */

// The SDK signs every request (credentials from its default chain); the fake does not check by whom.
process.env.AWS_ACCESS_KEY_ID = 'unit';
process.env.AWS_SECRET_ACCESS_KEY = 'unit';

type Put = { records: { key: string; data: Buffer }[]; at: number };
type PutAnswer = PutRecordsCommandOutput | Error;
type JsonInput = Record<string, unknown>;
type HttpAnswer = { response: { statusCode: number; headers: Record<string, string>; body: Buffer } };

/** One stream, one shard; PutRecords answers can be scripted per call. */
class FakeKinesis {
  readonly calls: string[] = [];
  readonly created: Record<string, unknown>[] = [];
  readonly puts: Put[] = [];
  /** Every record stored, in storage order. */
  readonly stored: { key: string; data: Buffer; sequence: string }[] = [];
  status: string | null = 'ACTIVE';
  /** Returns a scripted answer for the n-th PutRecords (0-based), or undefined to store everything. */
  onPut: (input: PutRecordsCommandInput, call: number) => PutAnswer | undefined = () => undefined;
  /** Iterators that answer ExpiredIteratorException. */
  readonly expired = new Set<string>();
  private iteratorCount = 0;

  /** The SDK client's requestHandler: one HTTP request in, one HTTP response out. */
  readonly handler = {
    handle: async (request: { headers: Record<string, string>; body?: unknown }): Promise<HttpAnswer> => {
      const target = Object.entries(request.headers).find(([name]) => name.toLowerCase() === 'x-amz-target')?.[1] ?? '';
      try {
        return answer(200, this.operation(target.split('.')[1], JSON.parse(bodyText(request.body)) as JsonInput));
      } catch (error) {
        // How Kinesis reports an error: the exception's name in __type.
        const e = error as Error & { $metadata?: { httpStatusCode?: number } };
        return answer(e.$metadata?.httpStatusCode ?? 400, { __type: e.name, message: e.message });
      }
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };

  operation(name: string, input: JsonInput): unknown {
    this.calls.push(name);
    switch (name) {
      case 'DescribeStreamSummary':
        if (this.status === null) throw new ResourceNotFoundException({ message: 'no such stream', $metadata: {} });
        return { StreamDescriptionSummary: { StreamStatus: this.status } };
      case 'CreateStream':
        this.created.push(input);
        if (this.status !== null) throw new ResourceInUseException({ message: 'exists', $metadata: {} });
        this.status = 'CREATING';
        setTimeout(() => (this.status = 'ACTIVE'), 30);
        return {};
      case 'PutRecords':
        return this.putRecords(input);
      case 'ListShards':
        return { Shards: [{ ShardId: 'shardId-000000000000', SequenceNumberRange: { StartingSequenceNumber: '0' } }] };
      case 'GetShardIterator': {
        const after = input.StartingSequenceNumber as string | undefined;
        return { ShardIterator: this.iterator(after === undefined ? 0 : Number(after) + 1) };
      }
      case 'GetRecords': {
        const iterator = input.ShardIterator as string;
        if (this.expired.has(iterator)) throw new ExpiredIteratorException({ message: 'Iterator expired', $metadata: {} });
        const from = Number(iterator.split(':')[1]);
        const records = this.stored.slice(from, from + (input.Limit as number)).map((r) => ({
          SequenceNumber: r.sequence,
          PartitionKey: r.key,
          Data: r.data.toString('base64'),
          ApproximateArrivalTimestamp: 1,
        }));
        return { Records: records, NextShardIterator: this.iterator(from + records.length), MillisBehindLatest: 0 };
      }
      default:
        throw new Error(`fake Kinesis does not implement ${name}`);
    }
  }

  count(name: string): number {
    return this.calls.filter((c) => c === name).length;
  }

  /** The iterator issued last (a reader's cached NextShardIterator). */
  lastIterator = '';

  private iterator(from: number): string {
    this.lastIterator = `it${++this.iteratorCount}:${from}`;
    return this.lastIterator;
  }

  private putRecords(json: JsonInput): unknown {
    const sent = json.Records as { PartitionKey: string; Data: string }[];
    const records = sent.map((r) => ({ key: r.PartitionKey, data: Buffer.from(r.Data, 'base64') }));
    this.puts.push({ records, at: Date.now() });
    const input: PutRecordsCommandInput = { StreamName: json.StreamName as string, Records: records.map((r) => ({ PartitionKey: r.key, Data: r.data })) };
    const scripted = this.onPut(input, this.puts.length - 1);
    if (scripted instanceof Error) throw scripted;
    const results: PutRecordsResultEntry[] = scripted?.Records ?? records.map(() => ({}));
    results.forEach((result, i) => {
      if (!result.ErrorCode) this.stored.push({ ...records[i], sequence: String(this.stored.length) });
    });
    return { FailedRecordCount: scripted?.FailedRecordCount ?? 0, Records: results };
  }
}

function bodyText(body: unknown): string {
  return typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array);
}

function answer(statusCode: number, body: unknown): HttpAnswer {
  return { response: { statusCode, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: Buffer.from(JSON.stringify(body)) } };
}

const throttled = (message = 'Rate exceeded for shard shardId-000000000000') => ({ ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: message });

function makeLog(fake: FakeKinesis, options: Partial<KinesisStreamLogOptions> = {}): KinesisStreamLog {
  return new KinesisStreamLog({
    region: 'us-east-1',
    streamPrefix: 'unit-',
    shards: 1,
    // Never called here (no joinGroup or commit): building it opens no connection.
    leases: new LeaseManager({ ...DEFAULT_LEASE_TIMINGS, table: { tableName: 'unit-leases', region: 'us-east-1' } }),
    ownsLeases: true,
    requestHandler: fake.handler,
    maxRetries: 4,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    ...options,
  });
}

const records = (n: number, key = (i: number) => `L${i % 3}`): AppendRecord[] =>
  Array.from({ length: n }, (_, i) => ({ key: key(i), value: Buffer.from(`r${i}`) }));
const storedValues = (fake: FakeKinesis) => fake.stored.map((r) => r.data.toString());

describe('KinesisStreamLog append (fake Kinesis)', () => {
  it('splits a large append into PutRecords requests of at most 500 records and 5 MiB, in order', async () => {
    const fake = new FakeKinesis();
    const log = makeLog(fake);
    const small = records(1203);
    await log.append('readings', small);
    expect(fake.puts.map((p) => p.records.length)).toEqual([500, 500, 203]);
    expect(storedValues(fake)).toEqual(small.map((r) => r.value.toString()));

    const big = Array.from({ length: 11 }, (_, i) => ({ key: `K${i}`, value: Buffer.alloc(KINESIS_LIMITS.bytesPerRecord - 8, i) }));
    fake.puts.length = 0;
    await log.append('readings', big);
    for (const put of fake.puts) {
      const bytes = put.records.reduce((sum, r) => sum + r.data.length + Buffer.byteLength(r.key), 0);
      expect(bytes).toBeLessThanOrEqual(KINESIS_LIMITS.bytesPerPut);
    }
    expect(fake.puts.map((p) => p.records.length)).toEqual([5, 5, 1]);
  });

  it('rejects a record over 1 MiB (data plus key) with a clear error and sends nothing', async () => {
    const fake = new FakeKinesis();
    const log = makeLog(fake);
    const tooBig = { key: 'L1', value: Buffer.alloc(KINESIS_LIMITS.bytesPerRecord - 1) };
    await expect(log.append('readings', [{ key: 'L0', value: Buffer.from('ok') }, tooBig])).rejects.toThrow(
      /record 1 \(key "L1"\) is 1048577 bytes with its partition key; Kinesis accepts at most 1048576/,
    );
    expect(fake.count('PutRecords')).toBe(0);
  });

  it('after a partial failure retries exactly the rejected records, storing each record once', async () => {
    const fake = new FakeKinesis();
    fake.onPut = (input, call) =>
      call === 0
        ? {
            FailedRecordCount: 2,
            Records: (input.Records ?? []).map((_, i) => (i === 1 || i === 3 ? throttled() : { SequenceNumber: 'x', ShardId: 's' })),
            $metadata: {},
          }
        : undefined;
    const log = makeLog(fake);
    const batch = records(6);
    await log.append('readings', batch);
    expect(fake.puts.map((p) => p.records.map((r) => r.data.toString()))).toEqual([['r0', 'r1', 'r2', 'r3', 'r4', 'r5'], ['r1', 'r3']]);
    const values = storedValues(fake);
    expect([...values].sort()).toEqual(batch.map((r) => r.value.toString()).sort());
    expect(new Set(values).size).toBe(values.length);
  });

  it('backs off on throttling (exponentially), then succeeds', async () => {
    const fake = new FakeKinesis();
    fake.onPut = (_, call) =>
      call < 2 ? new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } }) : undefined;
    const log = makeLog(fake, { retry: { baseDelayMs: 40, maxDelayMs: 1000, jitter: 'none' } });
    await log.append('readings', records(3));
    expect(fake.puts).toHaveLength(3);
    // Waited before each retry: at least 40 ms, then 80 ms (a lower bound: timers never fire early by more than a tick).
    expect(fake.puts[1].at - fake.puts[0].at).toBeGreaterThanOrEqual(38);
    expect(fake.puts[2].at - fake.puts[1].at).toBeGreaterThanOrEqual(78);
    expect(storedValues(fake)).toEqual(['r0', 'r1', 'r2']);
  });

  it('rejects after the retry budget, saying how many records failed and why', async () => {
    const fake = new FakeKinesis();
    fake.onPut = (input) => ({
      FailedRecordCount: 1,
      Records: (input.Records ?? []).map((r) => (r.PartitionKey === 'L0' ? throttled() : { SequenceNumber: 'x', ShardId: 's' })),
      $metadata: {},
    });
    const log = makeLog(fake, { maxRetries: 3 });
    const error = await log.append('readings', records(3)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(
      /Kinesis append to unit-readings: 1 of 3 records of a PutRecords request were not stored after 4 attempt\(s\): 1 × ProvisionedThroughputExceededException \(Rate exceeded/,
    );
    expect(fake.puts.map((p) => p.records.length)).toEqual([3, 1, 1, 1]);
    expect(storedValues(fake)).toEqual(['r1', 'r2']);
  });

  it('says which earlier requests of the append are stored when a later one fails', async () => {
    const fake = new FakeKinesis();
    fake.onPut = (_, call) => (call === 1 ? new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: {} }) : undefined);
    const log = makeLog(fake, { maxRetries: 0 });
    await expect(log.append('readings', records(700))).rejects.toThrow(
      /200 of 200 records .* after 1 attempt\(s\): ProvisionedThroughputExceededException: Rate exceeded; the 500 records before that request are stored/,
    );
  });

  it('leaves retries of a whole call to the SDK: any throttled call is retried, a refused one is not', async () => {
    const fake = new FakeKinesis();
    const original = fake.operation.bind(fake);
    let describes = 0;
    fake.operation = (name: string, input: JsonInput) => {
      if (name === 'DescribeStreamSummary' && ++describes <= 2) throw new LimitExceededException({ message: 'Rate exceeded for stream', $metadata: {} });
      return original(name, input);
    };
    await makeLog(fake).append('readings', records(2));
    expect(describes).toBe(3);
    expect(storedValues(fake)).toEqual(['r0', 'r1']);

    fake.onPut = () => new InvalidArgumentException({ message: 'Records has invalid entries', $metadata: {} });
    await expect(makeLog(fake).append('readings', records(2))).rejects.toThrow(/after 1 attempt\(s\): InvalidArgumentException: Records has invalid entries/);
    expect(fake.count('PutRecords')).toBe(2);
  });

  it('does not retry a per-record error that waiting cannot cure', async () => {
    const fake = new FakeKinesis();
    fake.onPut = (input) => ({
      FailedRecordCount: 1,
      Records: (input.Records ?? []).map((_, i) => (i === 0 ? { ErrorCode: 'KMSAccessDeniedException', ErrorMessage: 'denied' } : {})),
      $metadata: {},
    });
    const log = makeLog(fake);
    await expect(log.append('readings', records(2))).rejects.toThrow(/1 of 2 records .* after 1 attempt\(s\): 1 × KMSAccessDeniedException \(denied\)/);
  });
});

describe('KinesisStreamLog streams and reads (fake Kinesis)', () => {
  it('creates an absent stream once, waits for ACTIVE, and tolerates a concurrent creator', async () => {
    const fake = new FakeKinesis();
    fake.status = null;
    const log = makeLog(fake);
    await Promise.all([log.append('readings', records(1)), log.append('readings', records(1))]);
    expect(fake.count('CreateStream')).toBe(1);
    expect(fake.status).toBe('ACTIVE');
    expect(fake.stored).toHaveLength(2);

    // Another instance created it between our Describe and our Create.
    const racing = new FakeKinesis();
    racing.status = null;
    const original = racing.operation.bind(racing);
    racing.operation = (name: string, input: JsonInput) => {
      if (name === 'CreateStream') racing.status = 'CREATING';
      return original(name, input);
    };
    setTimeout(() => (racing.status = 'ACTIVE'), 20);
    await makeLog(racing).append('readings', records(1));
    expect(racing.stored).toHaveLength(1);
  });

  it('reuses the iterator for sequential reads and replaces an expired one', async () => {
    const fake = new FakeKinesis();
    const log = makeLog(fake);
    await log.append('readings', records(10));
    const first = await log.read('readings', 'shardId-000000000000', null, 4);
    const second = await log.read('readings', 'shardId-000000000000', first[3].position, 4);
    expect([...first, ...second].map((r) => r.value.toString())).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7']);
    expect(fake.count('GetShardIterator')).toBe(1);
    expect(fake.count('GetRecords')).toBe(2);

    // The cached iterator has expired (5 minutes idle in real Kinesis): a fresh one continues exactly.
    fake.expired.add(fake.lastIterator);
    const third = await log.read('readings', 'shardId-000000000000', second[3].position, 4);
    expect(third.map((r) => r.value.toString())).toEqual(['r8', 'r9']);
    expect(fake.count('GetShardIterator')).toBe(2);
    expect(await log.read('readings', 'shardId-000000000000', third[1].position, 4)).toEqual([]);
  });
});

describe('KinesisStreamLog.fromConfig', () => {
  it('takes region, prefix and shard count from the configuration', async () => {
    const fake = new FakeKinesis();
    fake.status = null;
    const config = loadConfig({ KINESIS_STREAM_PREFIX: 'prod-', KINESIS_SHARDS: '6', KINESIS_LEASE_TABLE: 'prod-leases' });
    const log = KinesisStreamLog.fromConfig(config, { requestHandler: fake.handler });
    expect(log.kinesisStreamName('readings')).toBe('prod-readings');
    await log.append('readings', records(1));
    expect(fake.created).toEqual([{ StreamName: 'prod-readings', ShardCount: 6 }]);
  });

  it('refuses a name Kinesis would reject', () => {
    const fake = new FakeKinesis();
    expect(() => makeLog(fake).kinesisStreamName('read ings')).toThrow(/"unit-read ings" is not a valid Kinesis stream name/);
  });
});
