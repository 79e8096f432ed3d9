import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { ReadModel } from '@meterstream/read-model';
import { ErrorResponseDto } from '../common/error-response.dto';
import { READ_MODEL } from '../common/tokens';
import { decodeCursor, encodeCursor } from './dead-letter-cursor';
import { DEFAULT_DEAD_LETTER_LIMIT, DeadLetterListDto, DeadLettersQuery, toDeadLetterDto } from './dead-letter.dto';

@ApiTags('dead-letters')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'API_TOKEN is set and the request lacks `Authorization: Bearer <token>`.' })
@Controller('dead-letters')
export class DeadLettersController {
  constructor(@Inject(READ_MODEL) private readonly readModel: ReadModel) {}

  @Get()
  @ApiOperation({
    summary: 'Rejected messages, newest first, a page at a time',
    description:
      'Every message the ingest bridge could not accept, with the reason, the topic and the raw bytes. ' +
      'To read past the first page, send the `nextCursor` of a page as `cursor`; each letter appears once, ' +
      'and letters that arrive meanwhile do not shift the pages (they are newer than the first page).',
  })
  @ApiOkResponse({ type: DeadLetterListDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A query parameter is invalid or unknown, or the cursor is not one this API issued.' })
  async list(@Query() query: DeadLettersQuery): Promise<DeadLetterListDto> {
    const limit = query.limit ?? DEFAULT_DEAD_LETTER_LIMIT;
    // The validation pipe has already refused a cursor that does not decode.
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    // One more than asked tells whether an older page exists, so the last page has no cursor.
    const rows = await this.readModel.deadLetters(limit + 1, after);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { deadLetters: page.map(toDeadLetterDto), nextCursor: rows.length > limit ? encodeCursor(last) : null };
  }
}
