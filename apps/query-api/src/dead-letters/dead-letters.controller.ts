import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { ReadModel } from '@meterstream/read-model';
import { ErrorResponseDto } from '../common/error-response.dto';
import { READ_MODEL } from '../common/tokens';
import { DEFAULT_DEAD_LETTER_LIMIT, DeadLetterListDto, DeadLettersQuery, toDeadLetterDto } from './dead-letter.dto';

@ApiTags('dead-letters')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'API_TOKEN is set and the request lacks `Authorization: Bearer <token>`.' })
@Controller('dead-letters')
export class DeadLettersController {
  constructor(@Inject(READ_MODEL) private readonly readModel: ReadModel) {}

  @Get()
  @ApiOperation({
    summary: 'Rejected messages, newest first',
    description: 'Every message the ingest bridge could not accept, with the reason, the topic and the raw bytes.',
  })
  @ApiOkResponse({ type: DeadLetterListDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A query parameter is invalid or unknown.' })
  async list(@Query() query: DeadLettersQuery): Promise<DeadLetterListDto> {
    const rows = await this.readModel.deadLetters(query.limit ?? DEFAULT_DEAD_LETTER_LIMIT);
    return { deadLetters: rows.map(toDeadLetterDto) };
  }
}
