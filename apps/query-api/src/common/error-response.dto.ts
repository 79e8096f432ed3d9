import { ApiProperty } from '@nestjs/swagger';

/** The body of every 4xx response (NestJS's standard shape). */
export class ErrorResponseDto {
  @ApiProperty({ example: 400 })
  statusCode!: number;

  @ApiProperty({ example: 'Bad Request' })
  error!: string;

  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: ['from must be an ISO-8601 time (e.g. 2026-11-29T05:00:00Z) or epoch milliseconds, got "yesterday"'],
    description: 'What was wrong and what to send instead; a list for validation errors.',
  })
  message!: string | string[];
}
