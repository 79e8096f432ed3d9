import { Controller, Get, Inject, NotFoundException, Param, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { LineSummary, ReadModel } from '@meterstream/read-model';
import { ErrorResponseDto } from '../common/error-response.dto';
import { resolveTimeRange } from '../common/time-range';
import { CLOCK, READ_MODEL, type Clock } from '../common/tokens';
import {
  AggregateListDto,
  AggregatesQuery,
  DEFAULT_READING_LIMIT,
  LineListDto,
  LineSummaryDto,
  NoQuery,
  ReadingListDto,
  ReadingsQuery,
  toAggregateDto,
  toLineSummaryDto,
  toRangeFields,
  toReadingDto,
} from './line.dto';

// A path segment is never empty (/lines//readings matches no route), hence minLength 1.
const LINE_ID_PARAM = {
  name: 'lineId',
  description: 'The feeder line, as in the topic line/{lineId}/SmartMeterData.',
  schema: { type: 'string', minLength: 1, example: 'L07' },
} as const;
const NOT_FOUND_DOC = { type: ErrorResponseDto, description: 'The line has never reported (no reading, window or alert).' };
const BAD_REQUEST_DOC = {
  type: ErrorResponseDto,
  description: 'A query parameter is invalid or unknown, from is not before to, or the range is longer than 31 days.',
};

@ApiTags('lines')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'API_TOKEN is set and the request lacks `Authorization: Bearer <token>`.' })
@Controller('lines')
export class LinesController {
  constructor(
    @Inject(READ_MODEL) private readonly readModel: ReadModel,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Every line: newest reading time, newest window and open alerts' })
  @ApiOkResponse({ type: LineListDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'The endpoint takes no query parameters.' })
  async list(@Query() _query: NoQuery): Promise<LineListDto> {
    return { lines: (await this.readModel.lines()).map(toLineSummaryDto) };
  }

  @Get(':lineId')
  @ApiOperation({ summary: "One line's summary" })
  @ApiParam(LINE_ID_PARAM)
  @ApiOkResponse({ type: LineSummaryDto })
  @ApiNotFoundResponse(NOT_FOUND_DOC)
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'The endpoint takes no query parameters.' })
  async one(@Param('lineId') lineId: string, @Query() _query: NoQuery): Promise<LineSummaryDto> {
    return toLineSummaryDto(await this.requireLine(lineId));
  }

  @Get(':lineId/aggregates')
  @ApiOperation({
    summary: 'Windows of a line',
    description: 'Per-line windows (or one meter\'s, with deviceId) whose start lies in [from, to), by window start. Default range: the last hour.',
  })
  @ApiParam(LINE_ID_PARAM)
  @ApiOkResponse({ type: AggregateListDto })
  @ApiBadRequestResponse(BAD_REQUEST_DOC)
  @ApiNotFoundResponse(NOT_FOUND_DOC)
  async aggregates(@Param('lineId') lineId: string, @Query() query: AggregatesQuery): Promise<AggregateListDto> {
    const range = resolveTimeRange(query, this.clock());
    await this.requireLine(lineId);
    const rows = await this.readModel.aggregates(lineId, range, { deviceId: query.deviceId });
    return { ...toRangeFields(lineId, range), windows: rows.map(toAggregateDto) };
  }

  @Get(':lineId/readings')
  @ApiOperation({
    summary: 'Raw readings of a line',
    description: 'Readings with event time in [from, to), oldest first, at most `limit`. Default range: the last hour. Old readings are pruned after READING_RETENTION_HOURS.',
  })
  @ApiParam(LINE_ID_PARAM)
  @ApiOkResponse({ type: ReadingListDto })
  @ApiBadRequestResponse(BAD_REQUEST_DOC)
  @ApiNotFoundResponse(NOT_FOUND_DOC)
  async readings(@Param('lineId') lineId: string, @Query() query: ReadingsQuery): Promise<ReadingListDto> {
    const range = resolveTimeRange(query, this.clock());
    const limit = query.limit ?? DEFAULT_READING_LIMIT;
    await this.requireLine(lineId);
    // One more than asked tells whether the range holds more.
    const rows = await this.readModel.readings(lineId, range, limit + 1);
    return { ...toRangeFields(lineId, range), limit, truncated: rows.length > limit, readings: rows.slice(0, limit).map(toReadingDto) };
  }

  private async requireLine(lineId: string): Promise<LineSummary> {
    const line = await this.readModel.line(lineId);
    if (line === null) throw new NotFoundException(`no data for line "${lineId}": it has never reported; GET /lines lists the lines that have`);
    return line;
  }
}
