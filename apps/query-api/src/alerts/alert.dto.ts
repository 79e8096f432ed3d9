import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import type { AlertRow } from '@meterstream/read-model';
import { ID_PARAM_LENGTH, IsIdParam, IsIntParam, IsOneOfParam } from '../common/query-params';
import { toIso } from '../common/time';

export const ALERT_STATE_FILTERS = ['raised', 'acknowledged', 'cleared', 'open'] as const;
export type AlertStateFilter = (typeof ALERT_STATE_FILTERS)[number];
export const DEFAULT_ALERT_LIMIT = 1000;
export const MAX_ALERT_LIMIT = 10_000;

export class AlertsQuery {
  @ApiPropertyOptional({ enum: ALERT_STATE_FILTERS, description: '`open` means raised or acknowledged. Default: every state.' })
  @IsOptional()
  @IsOneOfParam(ALERT_STATE_FILTERS)
  state?: AlertStateFilter;

  @ApiPropertyOptional({ description: 'Only the alerts of this line.', example: 'L07', ...ID_PARAM_LENGTH })
  @IsOptional()
  @IsIdParam('L07')
  lineId?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_ALERT_LIMIT, default: DEFAULT_ALERT_LIMIT, description: 'At most this many alerts, newest first.' })
  @IsOptional()
  @IsIntParam(1, MAX_ALERT_LIMIT)
  limit?: number;
}

export class AcknowledgeAlertDto {
  @ApiProperty({ description: 'Who acknowledges (a name or an on-call handle).', example: 'dispatch-ana', minLength: 1, maxLength: 100 })
  // Reported first-failing-last: a missing `by` says what to send, not that it is too long.
  @MaxLength(100)
  @IsString({ message: 'by must be a string naming who acknowledges, e.g. {"by": "dispatch-ana"}' })
  @IsNotEmpty({ message: 'by must name who acknowledges, e.g. {"by": "dispatch-ana"}' })
  by!: string;

  @ApiPropertyOptional({ description: 'A short note for the people who see the alert next.', maxLength: 500 })
  @IsOptional()
  // Checked bottom-up like `by`: a note that is not a string is told so, not that it is too long.
  @MaxLength(500)
  @IsString()
  note?: string;
}

export class AlertDto {
  @ApiProperty({ description: 'Stable for the lifetime of one alert: raised, acknowledged and cleared share it.' })
  alertId!: string;

  @ApiProperty({ example: 'undervoltage' })
  kind!: string;

  @ApiProperty({ enum: ['raised', 'acknowledged', 'cleared'] })
  state!: string;

  @ApiProperty({ enum: ['info', 'warning', 'critical'] })
  severity!: string;

  @ApiProperty({ example: 'L07' })
  lineId!: string;

  @ApiProperty({ type: String, nullable: true, description: 'The meter, for a per-meter alert.' })
  deviceId!: string | null;

  @ApiProperty()
  message!: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'What the rule saw: value, threshold and the window it looked at (windowStart and windowEnd as ISO-8601).',
    example: { value: 112.9, threshold: 114, windowStart: '2026-11-29T05:00:00.000Z', windowEnd: '2026-11-29T05:01:00.000Z' },
  })
  evidence!: Record<string, unknown>;

  @ApiProperty({ format: 'date-time', description: 'Event time at which the alert was raised.' })
  raisedAt!: string;

  @ApiProperty({ format: 'date-time', description: 'Event time of the latest state change.' })
  updatedAt!: string;
}

export class AlertListDto {
  @ApiProperty({ type: [AlertDto] })
  alerts!: AlertDto[];
}

/** Window bounds in the evidence are times too, so they are shown as ISO-8601 like every other time. */
const EVIDENCE_TIMES = ['windowStart', 'windowEnd'];

export function toAlertDto(row: AlertRow): AlertDto {
  const evidence: Record<string, unknown> = { ...row.evidence };
  for (const key of EVIDENCE_TIMES) {
    const value = evidence[key];
    if (typeof value === 'number' && Number.isFinite(value)) evidence[key] = toIso(value);
  }
  return { ...row, evidence, raisedAt: toIso(row.raisedAt), updatedAt: toIso(row.updatedAt) };
}
