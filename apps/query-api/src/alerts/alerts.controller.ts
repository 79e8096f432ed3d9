import { Body, Controller, ConflictException, Get, HttpCode, Inject, NotFoundException, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiUnsupportedMediaTypeResponse,
} from '@nestjs/swagger';
import { ENVELOPE_VERSION, type AlertEnvelope } from '@meterstream/contracts';
import type { AlertRow, ReadModel } from '@meterstream/read-model';
import { ErrorResponseDto } from '../common/error-response.dto';
import { MAX_BODY_BYTES, MAX_BODY_DEPTH } from '../common/json-body';
import { toIso } from '../common/time';
import { ALERT_EVENTS, CLOCK, READ_MODEL, type Clock } from '../common/tokens';
import { AcknowledgeAlertDto, AlertDto, AlertListDto, AlertsQuery, DEFAULT_ALERT_LIMIT, toAlertDto } from './alert.dto';
import type { AlertEventSink } from './alert-events';

@ApiTags('alerts')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'API_TOKEN is set and the request lacks `Authorization: Bearer <token>`.' })
@Controller('alerts')
export class AlertsController {
  constructor(
    @Inject(READ_MODEL) private readonly readModel: ReadModel,
    @Inject(ALERT_EVENTS) private readonly events: AlertEventSink,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Alerts, newest raised first', description: 'One entry per alert with its current state.' })
  @ApiOkResponse({ type: AlertListDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A query parameter is invalid or unknown.' })
  async list(@Query() query: AlertsQuery): Promise<AlertListDto> {
    const rows = await this.readModel.alerts({ state: query.state, lineId: query.lineId, limit: query.limit ?? DEFAULT_ALERT_LIMIT });
    return { alerts: rows.map(toAlertDto) };
  }

  @Post(':alertId/acknowledge')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Acknowledge an open alert',
    description:
      'Appends an `acknowledged` event to the alerts stream (the channels deliver it) and returns the alert. ' +
      'Acknowledging an acknowledged alert again changes nothing. The alert still clears by itself when the condition ends.',
  })
  @ApiParam({ name: 'alertId', description: 'As listed by GET /alerts.', schema: { type: 'string', minLength: 1, example: 'uv-L07-1' } })
  @ApiOkResponse({ type: AlertDto })
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: `The body lacks \`by\`, has unknown fields, is not a JSON object, or nests more than ${MAX_BODY_DEPTH} levels deep.`,
  })
  @ApiPayloadTooLargeResponse({ type: ErrorResponseDto, description: `The body is larger than ${MAX_BODY_BYTES} bytes.` })
  @ApiUnsupportedMediaTypeResponse({ type: ErrorResponseDto, description: 'The body is not sent as `Content-Type: application/json` (UTF-8).' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No alert has this id.' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The alert has already cleared.' })
  async acknowledge(@Param('alertId') alertId: string, @Body() body: AcknowledgeAlertDto): Promise<AlertDto> {
    const open = (await this.readModel.alerts({ state: 'open' })).find((a) => a.alertId === alertId);
    if (open === undefined) {
      const any = (await this.readModel.alerts({})).find((a) => a.alertId === alertId);
      if (any === undefined) throw new NotFoundException(`no alert "${alertId}"; GET /alerts lists them`);
      throw new ConflictException(`alert "${alertId}" cleared at ${toIso(any.updatedAt)}; only open alerts can be acknowledged`);
    }
    if (open.state === 'acknowledged') return toAlertDto(open);
    const event = acknowledgement(open, body, this.clock());
    await this.events.append(event);
    await this.readModel.apply({ alerts: [event] });
    await this.readModel.flush();
    const updated = (await this.readModel.alerts({ lineId: open.lineId })).find((a) => a.alertId === alertId);
    return toAlertDto(updated ?? open);
  }
}

/** The `acknowledged` event: the alert as it is, its new state, who, and when (the operator's wall clock). */
function acknowledgement(alert: AlertRow, body: AcknowledgeAlertDto, now: number): AlertEnvelope {
  return {
    v: ENVELOPE_VERSION,
    type: 'alert',
    id: `${alert.alertId}:acknowledged`,
    lineId: alert.lineId,
    deviceId: alert.deviceId,
    eventTime: now,
    ingestTime: now,
    body: {
      alertId: alert.alertId,
      kind: alert.kind,
      state: 'acknowledged',
      severity: alert.severity as AlertEnvelope['body']['severity'],
      lineId: alert.lineId,
      ...(alert.deviceId === null ? {} : { deviceId: alert.deviceId }),
      message: `Acknowledged by ${body.by}${body.note ? `: ${body.note}` : ''} — ${alert.message}`,
      evidence: alert.evidence as AlertEnvelope['body']['evidence'],
      raisedAt: alert.raisedAt,
      acknowledgedBy: body.by,
    },
  };
}
