import { BadRequestException } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import type { TimeRange } from '@meterstream/read-model';
import { IsTimeParam } from './query-params';
import { toIso } from './time';

export const DEFAULT_RANGE_MS = 60 * 60 * 1000;
export const MAX_RANGE_DAYS = 31;
const MAX_RANGE_MS = MAX_RANGE_DAYS * 24 * 60 * 60 * 1000;

const TIME_FORMAT = 'ISO-8601 (2026-11-29T05:00:00Z, or with an offset) or epoch milliseconds';
// Documented as date-time, the form clients should send; the server also reads a date or epoch ms.
const TIME_FORMAT_NOTE = 'Documented as an RFC 3339 date-time; a date (2026-11-29) or epoch milliseconds are read too.';

/** `from` and `to` query parameters; resolved against the clock by `resolveTimeRange`. */
export class TimeRangeQuery {
  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: `Start of the range, inclusive: ${TIME_FORMAT}. Default: one hour before \`to\`. ${TIME_FORMAT_NOTE}`,
    example: '2026-11-29T05:00:00Z',
  })
  @IsOptional()
  @IsTimeParam()
  from?: number;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: `End of the range, exclusive: ${TIME_FORMAT}. Default: now. At most ${MAX_RANGE_DAYS} days after \`from\`. ${TIME_FORMAT_NOTE}`,
    example: '2026-11-29T06:00:00Z',
  })
  @IsOptional()
  @IsTimeParam()
  to?: number;
}

/**
 * Fills the defaults (the last hour before now) and checks the range: from before to, and at
 * most MAX_RANGE_DAYS long, so one request cannot make the server read months of data.
 */
export function resolveTimeRange(query: TimeRangeQuery, now: number): TimeRange {
  const to = query.to ?? now;
  const from = query.from ?? to - DEFAULT_RANGE_MS;
  if (from >= to) {
    const toNote = query.to === undefined ? ' (to defaults to now)' : '';
    throw new BadRequestException([`from must be before to${toNote}, got from=${toIso(from)} and to=${toIso(to)}`]);
  }
  if (to - from > MAX_RANGE_MS) {
    const days = ((to - from) / (24 * 60 * 60 * 1000)).toFixed(1);
    throw new BadRequestException([
      `the range from ${toIso(from)} to ${toIso(to)} spans ${days} days; send from and to at most ${MAX_RANGE_DAYS} days apart and page through longer periods`,
    ]);
  }
  return { from, to };
}
