import { loadConfig } from '@meterstream/config';
import type { ReadingEnvelope } from '@meterstream/contracts';
import { readingEnvelope } from '@meterstream/test-harness';
import { createTimeSeriesSink } from './create-time-series-sink';
import type { RejectedReading } from './rejected-records';
import { MOTO_ENDPOINT, motoTimestreamRecords, requireMoto, startTimestreamFaultProxy, useDummyAwsCredentials, type MotoTimestreamRecord } from './testing/moto';
import { TimestreamSink, type TimestreamSinkOptions } from './timestream';

/**
 * The Timestream sink against moto's server (bash scripts/engines/moto.sh), the local stand-in
 * for Amazon Timestream: real SDK requests over HTTP, real table creation, records read back from
 * moto's backend. What moto does not emulate (deduplication, rejections, throttling) is stated in
 * each test; rejections and throttling are injected on the wire by a proxy.
 */

const T0 = Date.parse('2026-11-29T05:00:00.000Z');
const RUN = `${process.pid}_${Date.now()}`;
const FAST_RETRY = { attempts: 4, startingDelayMs: 10, maxDelayMs: 50 };

/** `perMeter` readings from each of `meters` meters on line L07, one per second, as they arrive. */
function fleetReadings(meters: number, perMeter: number, voltage = (m: number, t: number) => 115 + m + t / 100): ReadingEnvelope[] {
  const out: ReadingEnvelope[] = [];
  for (let t = 0; t < perMeter; t++) {
    for (let m = 0; m < meters; m++) out.push(readingEnvelope('L07', `m-${m}`, T0 + t * 1000, { voltage: voltage(m, t), current: 4 + m, kw: 0.5 }));
  }
  return out;
}

/** Straight to moto through the production factory; through a fault proxy with a fast retry policy. */
function sinkFor(database: string, endpoint = MOTO_ENDPOINT, options: Partial<TimestreamSinkOptions> = {}): TimestreamSink {
  const config = loadConfig({ TIMESERIES_BACKEND: 'timestream', AWS_REGION: 'us-east-1', TIMESTREAM_ENDPOINT: endpoint, TIMESTREAM_DATABASE: database, TIMESTREAM_TABLE: 'readings' });
  return endpoint === MOTO_ENDPOINT && Object.keys(options).length === 0
    ? (createTimeSeriesSink(config) as TimestreamSink)
    : TimestreamSink.fromConfig(config, { retry: FAST_RETRY, ...options });
}

/** "deviceId@seconds" of a stored record (deviceId is a record dimension unless the whole call was one meter). */
function keyOf(record: MotoTimestreamRecord): string {
  const device = record.Dimensions?.find((d) => d.Name === 'deviceId')?.Value ?? '(common)';
  return `${device}@${(Number(record.Time) - T0) / 1000}`;
}

describe('TimestreamSink against moto', () => {
  beforeAll(async () => {
    useDummyAwsCredentials();
    await requireMoto();
  });

  it('creates the database and table, and more than 100 readings arrive in WriteRecords calls of at most 100', async () => {
    const database = `ms_bulk_${RUN}`;
    const sink = sinkFor(database);
    expect(sink).toBeInstanceOf(TimestreamSink);
    const readings = fleetReadings(5, 50);
    await sink.write(readings);
    await sink.flush();
    expect(sink.stats()).toMatchObject({ written: 250, writeRequests: 3, rejected: 0 });
    await sink.close();

    const stored = await motoTimestreamRecords(database, 'readings');
    expect(stored).toHaveLength(250);
    expect(new Set(stored.map(keyOf))).toEqual(new Set(readings.map((r) => `${r.body.deviceId}@${(r.eventTime - T0) / 1000}`)));
    const m3at7 = stored.find((r) => keyOf(r) === 'm-3@7')!;
    expect(m3at7.MeasureValues).toEqual([
      { Name: 'voltage', Value: String(115 + 3 + 0.07), Type: 'DOUBLE' },
      { Name: 'current', Value: '7', Type: 'DOUBLE' },
      { Name: 'kw', Value: '0.5', Type: 'DOUBLE' },
    ]);
  });

  it('re-sends a replayed range as identical records, which Timestream keeps once (moto keeps both copies)', async () => {
    const database = `ms_replay_${RUN}`;
    const readings = fleetReadings(3, 40);
    const first = sinkFor(database);
    await first.write(readings);
    await first.close();
    // A restart that re-reads part of the stream: a new sink, the same readings, one redelivered twice.
    const second = sinkFor(database);
    await second.write([...readings.slice(60), readings[70]]);
    await second.close();

    const stored = await motoTimestreamRecords(database, 'readings');
    const byKey = new Map<string, MotoTimestreamRecord[]>();
    for (const record of stored) byKey.set(keyOf(record), [...(byKey.get(keyOf(record)) ?? []), record]);
    // Timestream keys records by dimensions, time and measure name and accepts an identical
    // record as a no-op; moto appends blindly, so the check is: one logical point per reading,
    // and every copy byte-identical to the first (so Timestream has nothing to add or reject).
    expect(byKey.size).toBe(120);
    expect(stored).toHaveLength(120 + 60);
    for (const copies of byKey.values()) for (const copy of copies) expect(copy).toEqual(copies[0]);
  });

  it('counts records Timestream already holds as written, reports the others with their reason, and does not retry them', async () => {
    const database = `ms_rejected_${RUN}`;
    const proxy = await startTimestreamFaultProxy();
    const reported: RejectedReading[] = [];
    const sink = sinkFor(database, proxy.endpoint, { onRejected: (r) => reported.push(...r) });
    try {
      const readings = fleetReadings(4, 1);
      // What Timestream answers when record 1 exists already and record 2 is too old: it writes
      // records 0 and 3 and lists the other two in a RejectedRecordsException (HTTP 419).
      proxy.failNextWrite({
        status: 419,
        forward: true,
        dropRecordIndexes: [1, 2],
        body: {
          __type: 'com.amazonaws.timestream.v20181101#RejectedRecordsException',
          message: 'One or more records have been rejected. See RejectedRecords for details.',
          RejectedRecords: [
            { RecordIndex: 1, Reason: 'A record with the same time, dimensions and measure name already exists with a different value.', ExistingVersion: 1 },
            { RecordIndex: 2, Reason: 'The record timestamp is outside the time range of the data ingestion window.' },
          ],
        },
      });
      await sink.write(readings);
      await sink.flush();

      expect(proxy.writeCalls).toBe(1);
      expect(reported).toEqual([{ deviceId: 'm-2', lineId: 'L07', eventTime: T0, reason: 'The record timestamp is outside the time range of the data ingestion window.' }]);
      expect(sink.stats()).toMatchObject({ written: 3, duplicates: 1, rejected: 1, retries: 0 });
      expect(sink.buffered).toBe(0);
      expect((await motoTimestreamRecords(database, 'readings')).map(keyOf).sort()).toEqual(['m-0@0', 'm-3@0']);
    } finally {
      await sink.close();
      await proxy.close();
    }
  });

  it('retries a throttled WriteRecords with backoff until it goes through', async () => {
    const database = `ms_throttled_${RUN}`;
    const proxy = await startTimestreamFaultProxy();
    const sink = sinkFor(database, proxy.endpoint);
    try {
      const throttled = { status: 429, forward: false, body: { __type: 'com.amazonaws.timestream.v20181101#ThrottlingException', message: 'Rate exceeded' } };
      proxy.failNextWrite(throttled);
      proxy.failNextWrite(throttled);
      await sink.write(fleetReadings(2, 5));
      await sink.flush();
      expect(proxy.writeCalls).toBe(3);
      expect(sink.stats()).toMatchObject({ written: 10, retries: 2, writeRequests: 1 });
      expect(await motoTimestreamRecords(database, 'readings')).toHaveLength(10);
    } finally {
      await sink.close();
      await proxy.close();
    }
  });

  it('reports a failure that outlasts the retries and keeps the readings for the next flush', async () => {
    const database = `ms_outage_${RUN}`;
    const proxy = await startTimestreamFaultProxy();
    const sink = sinkFor(database, proxy.endpoint);
    try {
      const unavailable = { status: 500, forward: false, body: { __type: 'com.amazonaws.timestream.v20181101#InternalServerException', message: 'Internal error' } };
      for (let i = 0; i < FAST_RETRY.attempts; i++) proxy.failNextWrite(unavailable);
      await sink.write(fleetReadings(1, 3));
      await expect(sink.flush()).rejects.toThrow(/InternalServerException: Internal error/);
      expect(sink.buffered).toBe(3);
      await sink.flush();
      expect(await motoTimestreamRecords(database, 'readings')).toHaveLength(3);
    } finally {
      await sink.close();
      await proxy.close();
    }
  });
});
