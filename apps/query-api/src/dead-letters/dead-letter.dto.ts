import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, ValidateBy } from 'class-validator';
import type { DeadLetterRow } from '@meterstream/read-model';
import { IsIntParam } from '../common/query-params';
import { toIso } from '../common/time';
import { decodeCursor, MAX_CURSOR_LENGTH } from './dead-letter-cursor';

export const DEFAULT_DEAD_LETTER_LIMIT = 100;
export const MAX_DEAD_LETTER_LIMIT = 1000;
export const INVALID_CURSOR_MESSAGE = 'cursor is not valid; use the nextCursor of a previous page';

export class DeadLettersQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_DEAD_LETTER_LIMIT, default: DEFAULT_DEAD_LETTER_LIMIT, description: 'At most this many, newest first.' })
  @IsOptional()
  @IsIntParam(1, MAX_DEAD_LETTER_LIMIT)
  limit?: number;

  @ApiPropertyOptional({
    type: String,
    minLength: 1,
    maxLength: MAX_CURSOR_LENGTH,
    pattern: '^[A-Za-z0-9_-]+$',
    description: 'The `nextCursor` of the previous page, as it came (opaque): the page of older letters that follows it. Absent: the newest page.',
  })
  @IsOptional()
  @ValidateBy({ name: 'isDeadLetterCursor', validator: { validate: (value: unknown) => decodeCursor(value) !== undefined, defaultMessage: () => INVALID_CURSOR_MESSAGE } })
  cursor?: string;
}

export class FieldErrorDto {
  @ApiProperty({ description: 'Dotted path of the field, or "(payload)" / "(topic)".', example: 'voltage' })
  field!: string;

  @ApiProperty({ example: 'is required (volts, a number)' })
  message!: string;
}

export class DeadLetterDto {
  @ApiProperty({ description: 'Derived from the topic and the bytes, so a redelivery has the same id.' })
  id!: string;

  @ApiProperty({ description: 'From the topic; "(unknown)" when the topic is not a readings topic.', example: 'L07' })
  lineId!: string;

  @ApiProperty({ type: String, nullable: true, description: 'When the payload named one.' })
  deviceId!: string | null;

  @ApiProperty({ example: 'line/L07/SmartMeterData' })
  topic!: string;

  @ApiProperty({ description: 'One line a person can act on.' })
  reason!: string;

  @ApiProperty({ type: [FieldErrorDto] })
  errors!: FieldErrorDto[];

  @ApiProperty({ format: 'byte', description: 'The bytes exactly as they arrived, base64.' })
  payloadBase64!: string;

  @ApiProperty({ type: String, nullable: true, description: 'The same bytes as text when they are valid UTF-8, else null.' })
  payloadText!: string | null;

  @ApiProperty({ format: 'date-time' })
  receivedAt!: string;
}

export class DeadLetterListDto {
  @ApiProperty({ type: [DeadLetterDto], description: 'Newest first (receivedAt descending, ties by id).' })
  deadLetters!: DeadLetterDto[];

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'Send as `cursor` (with the same `limit` or another) for the next, older page; null on the last page.',
    example: 'WzE3OTU5MjgzNDAwMDAsImRsOjNmMGMyYTliZTFkODRjNTViMGI3YTBkMmY2ZTRjMWE5YjhkN2U2ZjUiXQ',
  })
  nextCursor!: string | null;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function toDeadLetterDto(row: DeadLetterRow): DeadLetterDto {
  let payloadText: string | null;
  try {
    payloadText = strictUtf8.decode(Buffer.from(row.payload, 'base64'));
  } catch {
    payloadText = null;
  }
  return {
    id: row.id,
    lineId: row.lineId,
    deviceId: row.deviceId,
    topic: row.topic,
    reason: row.reason,
    errors: row.errors,
    payloadBase64: row.payload,
    payloadText,
    receivedAt: toIso(row.receivedAt),
  };
}
