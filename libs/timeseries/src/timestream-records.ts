import type { _Record, Dimension, MeasureValue } from '@aws-sdk/client-timestream-write';
import type { ReadingEnvelope } from '@meterstream/contracts';

/** The multi-measure name every reading is written under. */
export const READING_MEASURE_NAME = 'reading';
/** Timestream's limit on records per WriteRecords call. */
export const MAX_RECORDS_PER_WRITE = 100;
/**
 * Every record is written at version 1: a replay sends byte-identical records, which Timestream
 * accepts as a no-op, and a record with the same meter and time but different values is rejected
 * with ExistingVersion (the first reading wins, as in the SQLite sink), never a silent overwrite.
 */
export const RECORD_VERSION = 1;

/** Which reading a record came from, for reporting rejections by RecordIndex. */
export interface ReadingKey {
  deviceId: string;
  lineId: string;
  eventTime: number;
}

/** One WriteRecords call's worth: what the records share, the records, and their readings. */
export interface TimestreamWriteBatch {
  commonAttributes: _Record;
  records: _Record[];
  /** keys[i] is the reading of records[i]. */
  keys: ReadingKey[];
}

/** The measures of a reading that are present: voltage always, current and kw when sent. */
export function readingMeasures(reading: ReadingEnvelope): MeasureValue[] {
  const { voltage, current, kw } = reading.body;
  const measures: MeasureValue[] = [{ Name: 'voltage', Value: String(voltage), Type: 'DOUBLE' }];
  if (current !== undefined) measures.push({ Name: 'current', Value: String(current), Type: 'DOUBLE' });
  if (kw !== undefined) measures.push({ Name: 'kw', Value: String(kw), Type: 'DOUBLE' });
  return measures;
}

/**
 * Turns readings into WriteRecords batches of at most `maxRecords` records, grouped by line (the
 * stream's partition key, so a batch is usually one line already) in arrival order. What a batch
 * shares goes into CommonAttributes once instead of into every record: measure name and type,
 * time unit, version, the lineId dimension, and the deviceId dimension too when the whole batch
 * is one meter's history. Records carry only their time, their measures and, otherwise, their
 * deviceId. Readings must already be unique by (deviceId, eventTime).
 */
export function buildWriteBatches(readings: readonly ReadingEnvelope[], maxRecords = MAX_RECORDS_PER_WRITE): TimestreamWriteBatch[] {
  if (!Number.isInteger(maxRecords) || maxRecords < 1 || maxRecords > MAX_RECORDS_PER_WRITE) {
    throw new RangeError(`maxRecords must be 1..${MAX_RECORDS_PER_WRITE}, got ${maxRecords}`);
  }
  const byLine = new Map<string, ReadingEnvelope[]>();
  for (const reading of readings) {
    const line = byLine.get(reading.lineId);
    if (line) line.push(reading);
    else byLine.set(reading.lineId, [reading]);
  }
  const batches: TimestreamWriteBatch[] = [];
  for (const [lineId, lineReadings] of byLine) {
    for (let start = 0; start < lineReadings.length; start += maxRecords) {
      batches.push(buildBatch(lineId, lineReadings.slice(start, start + maxRecords)));
    }
  }
  return batches;
}

function buildBatch(lineId: string, readings: ReadingEnvelope[]): TimestreamWriteBatch {
  const deviceIds = new Set(readings.map((r) => r.body.deviceId));
  const oneMeter = deviceIds.size === 1;
  const commonDimensions: Dimension[] = [{ Name: 'lineId', Value: lineId, DimensionValueType: 'VARCHAR' }];
  if (oneMeter) commonDimensions.unshift(deviceDimension(readings[0].body.deviceId));
  return {
    commonAttributes: {
      Dimensions: commonDimensions,
      MeasureName: READING_MEASURE_NAME,
      MeasureValueType: 'MULTI',
      TimeUnit: 'MILLISECONDS',
      Version: RECORD_VERSION,
    },
    records: readings.map((r) => ({
      ...(oneMeter ? {} : { Dimensions: [deviceDimension(r.body.deviceId)] }),
      Time: String(r.eventTime),
      MeasureValues: readingMeasures(r),
    })),
    keys: readings.map((r) => ({ deviceId: r.body.deviceId, lineId: r.lineId, eventTime: r.eventTime })),
  };
}

function deviceDimension(deviceId: string): Dimension {
  return { Name: 'deviceId', Value: deviceId, DimensionValueType: 'VARCHAR' };
}
