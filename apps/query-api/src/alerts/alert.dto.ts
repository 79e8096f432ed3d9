import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import type { AlertRow } from '@meterstream/read-model';
import { ID_PARAM_LENGTH, IsIdParam, IsIntParam, IsOneOfParam } from '../common/query-params';
import { toIso } from '../common/time';

export const ALERT_STATES = ['raised', 'acknowledged', 'cleared', 'closed'] as const;
export const ALERT_STATE_FILTERS = [...ALERT_STATES, 'open'] as const;
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

export class CloseAlertDto {
  @ApiProperty({ description: 'Who closes the alert.', example: 'dispatch-ana', minLength: 1, maxLength: 100 })
  @MaxLength(100)
  @IsString({ message: 'by must be a string naming who closes the alert, e.g. {"by": "dispatch-ana", "reason": "line L07 decommissioned"}' })
  @IsNotEmpty({ message: 'by must name who closes the alert, e.g. {"by": "dispatch-ana", "reason": "line L07 decommissioned"}' })
  by!: string;

  @ApiProperty({ description: 'Why the alert is closed (e.g. the line stopped reporting and a crew checked it).', example: 'line stopped reporting; crew found it de-energised for works', minLength: 1, maxLength: 500 })
  @MaxLength(500)
  @IsString({ message: 'reason must be a string saying why the alert is closed, e.g. {"by": "dispatch-ana", "reason": "line stopped reporting"}' })
  @IsNotEmpty({ message: 'reason must say why the alert is closed, e.g. {"by": "dispatch-ana", "reason": "line stopped reporting"}' })
  reason!: string;
}

export class ReopenAlertDto {
  @ApiProperty({ description: 'Who reopens the alert.', example: 'dispatch-ana', minLength: 1, maxLength: 100 })
  @MaxLength(100)
  @IsString({ message: 'by must be a string naming who reopens the alert, e.g. {"by": "dispatch-ana"}' })
  @IsNotEmpty({ message: 'by must name who reopens the alert, e.g. {"by": "dispatch-ana"}' })
  by!: string;

  @ApiPropertyOptional({ description: 'Why it is reopened (kept on the alert-commands stream).', maxLength: 500 })
  @IsOptional()
  @MaxLength(500)
  @IsString()
  note?: string;
}

export class AlertDto {
  @ApiProperty({ description: 'Stable for the lifetime of one alert (raised, escalated, cleared, and across replays): commands name it.' })
  alertId!: string;

  @ApiProperty({ example: 'undervoltage' })
  kind!: string;

  @ApiProperty({
    enum: ALERT_STATES,
    description: '`closed`: an operator closed it (wins over the rest); `cleared`: its rule saw the condition end; `acknowledged`: someone is on it; `raised`: open.',
  })
  state!: string;

  @ApiProperty({
    enum: ['raised', 'cleared'],
    description: 'Where its rule says it is, whatever operators decided: a closed alert whose rule still says `raised` still sees the condition (or its line went silent).',
  })
  ruleState!: string;

  @ApiProperty({ enum: ['info', 'warning', 'critical'], description: 'The current severity: an escalation (warning → critical) raises it on the same alert.' })
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

  @ApiProperty({ format: 'date-time', description: "Event time of its rule's latest event (raised, escalated, cleared)." })
  updatedAt!: string;

  @ApiProperty({ type: String, nullable: true, description: 'Who acknowledged it; null when nobody has.' })
  acknowledgedBy!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When it was acknowledged (the API clock).' })
  acknowledgedAt!: string | null;

  @ApiProperty({ type: String, nullable: true, description: "The acknowledgement's note." })
  note!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Who closed it; null unless closed.' })
  closedBy!: string | null;

  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'When it was closed (the API clock).' })
  closedAt!: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why it was closed.' })
  reason!: string | null;
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
  return {
    ...row,
    evidence,
    raisedAt: toIso(row.raisedAt),
    updatedAt: toIso(row.updatedAt),
    acknowledgedAt: row.acknowledgedAt === null ? null : toIso(row.acknowledgedAt),
    closedAt: row.closedAt === null ? null : toIso(row.closedAt),
  };
}
