import { readingEnvelope } from '@meterstream/test-harness';
import { buildWriteBatches, MAX_RECORDS_PER_WRITE, READING_MEASURE_NAME, readingMeasures, RECORD_VERSION } from './timestream-records';

const T0 = Date.parse('2026-11-29T05:00:00.000Z');
const SECOND = 1000;

/** `perMeter` readings from each of `meters` meters of one line, interleaved as they arrive. */
function lineReadings(lineId: string, meters: number, perMeter: number) {
  const readings = [];
  for (let t = 0; t < perMeter; t++) {
    for (let m = 0; m < meters; m++) readings.push(readingEnvelope(lineId, `m-${lineId}-${m}`, T0 + t * SECOND, { voltage: 118 + m, current: 5 }));
  }
  return readings;
}

describe('buildWriteBatches', () => {
  it('splits a line into WriteRecords batches of at most 100 records, in arrival order', () => {
    const readings = lineReadings('L07', 5, 50);
    const batches = buildWriteBatches(readings);
    expect(batches.map((b) => b.records.length)).toEqual([100, 100, 50]);
    expect(batches.flatMap((b) => b.keys)).toEqual(readings.map((r) => ({ deviceId: r.body.deviceId, lineId: 'L07', eventTime: r.eventTime })));
  });

  it('puts what a batch shares into CommonAttributes and leaves records only their own deviceId, time and measures', () => {
    const [batch] = buildWriteBatches(lineReadings('L07', 3, 2));
    expect(batch.commonAttributes).toEqual({
      Dimensions: [{ Name: 'lineId', Value: 'L07', DimensionValueType: 'VARCHAR' }],
      MeasureName: READING_MEASURE_NAME,
      MeasureValueType: 'MULTI',
      TimeUnit: 'MILLISECONDS',
      Version: RECORD_VERSION,
    });
    expect(batch.records[1]).toEqual({
      Dimensions: [{ Name: 'deviceId', Value: 'm-L07-1', DimensionValueType: 'VARCHAR' }],
      Time: String(T0),
      MeasureValues: [
        { Name: 'voltage', Value: '119', Type: 'DOUBLE' },
        { Name: 'current', Value: '5', Type: 'DOUBLE' },
      ],
    });
    for (const record of batch.records) expect(Object.keys(record).sort()).toEqual(['Dimensions', 'MeasureValues', 'Time']);
  });

  it("moves the deviceId dimension into CommonAttributes when a batch is one meter's history", () => {
    const [batch] = buildWriteBatches(lineReadings('L07', 1, 3));
    expect(batch.commonAttributes.Dimensions).toEqual([
      { Name: 'deviceId', Value: 'm-L07-0', DimensionValueType: 'VARCHAR' },
      { Name: 'lineId', Value: 'L07', DimensionValueType: 'VARCHAR' },
    ]);
    expect(batch.records.map((r) => r.Dimensions)).toEqual([undefined, undefined, undefined]);
    expect(batch.records.map((r) => r.Time)).toEqual([T0, T0 + SECOND, T0 + 2 * SECOND].map(String));
  });

  it('never mixes lines in one batch', () => {
    const readings = [...lineReadings('L01', 2, 30), ...lineReadings('L02', 2, 60)];
    // Arrival order mixes the lines.
    readings.push(readings.shift()!);
    const batches = buildWriteBatches(readings);
    expect(batches.map((b) => [b.commonAttributes.Dimensions!.at(-1)!.Value, b.records.length])).toEqual([
      ['L01', 60],
      ['L02', 100],
      ['L02', 20],
    ]);
    for (const batch of batches) expect(new Set(batch.keys.map((k) => k.lineId)).size).toBe(1);
  });

  it('honours a smaller batch size and refuses one above the Timestream limit', () => {
    expect(buildWriteBatches(lineReadings('L07', 1, 7), 3).map((b) => b.records.length)).toEqual([3, 3, 1]);
    expect(() => buildWriteBatches([], MAX_RECORDS_PER_WRITE + 1)).toThrow('1..100');
    expect(buildWriteBatches([])).toEqual([]);
  });
});

describe('readingMeasures', () => {
  it('writes only the measures a reading has: voltage always, current and kw when present', () => {
    const names = (fields: Record<string, unknown>) => readingMeasures(readingEnvelope('L07', 'm-1', T0, fields)).map((m) => `${m.Name}=${m.Value}`);
    expect(names({ voltage: 119.6 })).toEqual(['voltage=119.6']);
    expect(names({ voltage: 119.6, kw: 0.95, powerFactor: 0.9, kwh: 12 })).toEqual(['voltage=119.6', 'kw=0.95']);
    expect(names({ voltage: 120, current: 0, kw: 0 })).toEqual(['voltage=120', 'current=0', 'kw=0']);
  });
});
