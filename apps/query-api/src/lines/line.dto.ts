import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import type { AggregateRow, LineSummary, ReadingRow, TimeRange } from '@meterstream/read-model';
import { AlertDto, toAlertDto } from '../alerts/alert.dto';
import { ID_PARAM_LENGTH, IsIdParam, IsIntParam } from '../common/query-params';
import { TimeRangeQuery } from '../common/time-range';
import { toIso, toIsoOrNull } from '../common/time';

export const DEFAULT_READING_LIMIT = 1000;
export const MAX_READING_LIMIT = 10_000;

/** GET /lines takes no parameters; the class exists so unknown ones are refused like everywhere else. */
export class NoQuery {}

export class AggregatesQuery extends TimeRangeQuery {
  @ApiPropertyOptional({
    description: "One meter's own windows instead of the line's (when the processor computes per-meter windows).",
    example: 'm-000123',
    ...ID_PARAM_LENGTH,
  })
  @IsOptional()
  @IsIdParam('m-000123')
  deviceId?: string;
}

export class ReadingsQuery extends TimeRangeQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_READING_LIMIT, default: DEFAULT_READING_LIMIT, description: 'At most this many readings, oldest first.' })
  @IsOptional()
  @IsIntParam(1, MAX_READING_LIMIT)
  limit?: number;
}

export class MeanMaxDto {
  @ApiProperty()
  mean!: number;

  @ApiProperty()
  max!: number;
}

export class VoltageStatsDto {
  @ApiProperty({ example: 117.5 })
  min!: number;

  @ApiProperty({ example: 121.25 })
  max!: number;

  @ApiProperty({ example: 119.4 })
  mean!: number;

  @ApiProperty({ example: 0.8, description: 'Population standard deviation.' })
  stddev!: number;

  @ApiProperty({
    type: Number,
    nullable: true,
    example: 118.1,
    description:
      '5th percentile, nearest rank: of the n values sorted ascending, the one at rank ceil(5 n / 100), i.e. the smallest value such that at least 5 % of the values are <= it. Null for windows stored before percentiles were computed.',
  })
  p5!: number | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    example: 120.9,
    description: '95th percentile, nearest rank (rank ceil(95 n / 100)). Null for windows stored before percentiles were computed.',
  })
  p95!: number | null;
}

export class AggregateDto {
  @ApiProperty({ example: 'agg:L07:1795928400000:60000' })
  id!: string;

  @ApiProperty({ example: 'L07' })
  lineId!: string;

  @ApiProperty({ type: String, nullable: true, description: 'Null for a per-line window.' })
  deviceId!: string | null;

  @ApiProperty({ format: 'date-time', description: 'Inclusive.' })
  windowStart!: string;

  @ApiProperty({ format: 'date-time', description: 'Exclusive.' })
  windowEnd!: string;

  @ApiProperty({ description: 'Readings in the window.' })
  count!: number;

  @ApiProperty({ description: 'Distinct meters that reported in the window.' })
  meters!: number;

  @ApiProperty({ type: VoltageStatsDto, description: 'Volts.' })
  voltage!: VoltageStatsDto;

  @ApiProperty({ type: MeanMaxDto, nullable: true, description: 'Amperes; null when no reading carried a current.' })
  current!: MeanMaxDto | null;

  @ApiProperty({ type: MeanMaxDto, nullable: true, description: 'Kilowatts; null when no reading carried kw.' })
  kw!: MeanMaxDto | null;

  @ApiProperty({
    type: Number,
    nullable: true,
    example: 2.35,
    description:
      "Kilowatt-hours consumed in the window, from the cumulative kWh registers: per meter, its last minus its first register value in the window by event time, summed over the meters. A meter's first reading only marks the start (one reading: 0); a register that went backwards (meter replaced or reset) counts 0. Null when no reading carried kwh.",
  })
  energyKwh!: number | null;
}

export class ReadingDto {
  @ApiProperty({ example: 'm-000123@1795928400000' })
  id!: string;

  @ApiProperty({ example: 'L07' })
  lineId!: string;

  @ApiProperty({ example: 'm-000123' })
  deviceId!: string;

  @ApiProperty({ format: 'date-time' })
  eventTime!: string;

  @ApiProperty({ example: 119.6 })
  voltage!: number;

  @ApiProperty({ type: Number, nullable: true })
  current!: number | null;

  @ApiProperty({ type: Number, nullable: true })
  powerFactor!: number | null;

  @ApiProperty({ type: Number, nullable: true })
  kw!: number | null;

  @ApiProperty({ type: Number, nullable: true, description: 'Cumulative kilowatt-hours.' })
  kwh!: number | null;

  @ApiProperty({ type: String, nullable: true })
  status!: string | null;
}

export class DeliveryDelayDto {
  @ApiProperty({ example: 185_000, description: "Moving average of the delay between a reading's event time and its arrival in the stream (ingest time), over the line's recent readings (about the last 20), ms." })
  ewmaMs!: number;

  @ApiProperty({ example: 241_000, description: 'The highest such delay over the last 30 to 60 minutes of the line\'s arrivals, ms.' })
  maxMs!: number;

  @ApiProperty({ format: 'date-time', description: "When it was measured: the arrival (ingest time) of the line's latest reading then." })
  measuredAt!: string;
}

export class LineSummaryDto {
  @ApiProperty({ example: 'L07' })
  lineId!: string;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'Event time of the newest reading; null before the first.' })
  latestReadingTime!: string | null;

  @ApiProperty({ type: AggregateDto, nullable: true, description: 'The newest per-line window.' })
  latestWindow!: AggregateDto | null;

  @ApiProperty({ type: [AlertDto], description: 'Alerts raised or acknowledged, not yet cleared, newest first.' })
  openAlerts!: AlertDto[];

  @ApiProperty({ description: 'Readings that arrived after their window had fired: kept in the late-readings stream, merged into no window.' })
  lateReadings!: number;

  @ApiProperty({ description: 'Redeliveries recognised by event id and counted once.' })
  duplicateReadings!: number;

  @ApiProperty({
    type: DeliveryDelayDto,
    nullable: true,
    description:
      "How late the line's readings reach the stream (a collector or head-end uploading in bulk shows here): the figure measured latest. Null before the processor has measured one.",
  })
  deliveryDelay!: DeliveryDelayDto | null;
}

export class LineListDto {
  @ApiProperty({ type: [LineSummaryDto] })
  lines!: LineSummaryDto[];
}

class RangeDto {
  @ApiProperty({ example: 'L07' })
  lineId!: string;

  @ApiProperty({ format: 'date-time', description: 'The range served, after defaults: inclusive.' })
  from!: string;

  @ApiProperty({ format: 'date-time', description: 'Exclusive.' })
  to!: string;
}

export class AggregateListDto extends RangeDto {
  @ApiProperty({ type: [AggregateDto], description: 'Windows starting in [from, to), by window start.' })
  windows!: AggregateDto[];
}

export class ReadingListDto extends RangeDto {
  @ApiProperty()
  limit!: number;

  @ApiProperty({ description: 'True when the range holds more than `limit` readings: ask again with `from` set to the last eventTime (readings at that instant come again; their ids tell them apart).' })
  truncated!: boolean;

  @ApiProperty({ type: [ReadingDto], description: 'Readings with event time in [from, to), oldest first.' })
  readings!: ReadingDto[];
}

export function toAggregateDto(row: AggregateRow): AggregateDto {
  return { ...row, windowStart: toIso(row.windowStart), windowEnd: toIso(row.windowEnd) };
}

export function toReadingDto(row: ReadingRow): ReadingDto {
  return { ...row, eventTime: toIso(row.eventTime) };
}

export function toLineSummaryDto(line: LineSummary): LineSummaryDto {
  return {
    lineId: line.lineId,
    latestReadingTime: toIsoOrNull(line.latestReadingTime),
    latestWindow: line.latestWindow ? toAggregateDto(line.latestWindow) : null,
    openAlerts: line.openAlerts.map(toAlertDto),
    lateReadings: line.lateReadings,
    duplicateReadings: line.duplicateReadings,
    deliveryDelay: line.deliveryDelay ? { ...line.deliveryDelay, measuredAt: toIso(line.deliveryDelay.measuredAt) } : null,
  };
}

export function toRangeFields(lineId: string, range: TimeRange): RangeDto {
  return { lineId, from: toIso(range.from), to: toIso(range.to) };
}
