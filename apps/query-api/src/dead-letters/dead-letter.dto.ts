import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import type { DeadLetterRow } from '@meterstream/read-model';
import { IsIntParam } from '../common/query-params';
import { toIso } from '../common/time';

export const DEFAULT_DEAD_LETTER_LIMIT = 100;
export const MAX_DEAD_LETTER_LIMIT = 1000;

export class DeadLettersQuery {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_DEAD_LETTER_LIMIT, default: DEFAULT_DEAD_LETTER_LIMIT, description: 'At most this many, newest first.' })
  @IsOptional()
  @IsIntParam(1, MAX_DEAD_LETTER_LIMIT)
  limit?: number;
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
  @ApiProperty({ type: [DeadLetterDto] })
  deadLetters!: DeadLetterDto[];
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
