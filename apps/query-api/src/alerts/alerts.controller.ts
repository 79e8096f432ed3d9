import { applyDecorators, Body, Controller, ConflictException, Get, HttpCode, Inject, NotFoundException, Param, Post, Query } from '@nestjs/common';
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
import { alertCommandEnvelope, type AlertCommandBody } from '@meterstream/contracts';
import { alertStatus, applyAlertCommand, decisionsOf, type ReadModel } from '@meterstream/read-model';
import { ErrorResponseDto } from '../common/error-response.dto';
import { MAX_BODY_BYTES, MAX_BODY_DEPTH } from '../common/json-body';
import { ALERT_COMMANDS, CLOCK, READ_MODEL, type Clock } from '../common/tokens';
import { AcknowledgeAlertDto, AlertDto, AlertListDto, AlertsQuery, CloseAlertDto, DEFAULT_ALERT_LIMIT, ReopenAlertDto, toAlertDto } from './alert.dto';
import { refusal } from './alert-command-rules';
import type { AlertCommandSink } from './alert-command-sink';

@ApiTags('alerts')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'API_TOKEN is set and the request lacks `Authorization: Bearer <token>`.' })
@Controller('alerts')
export class AlertsController {
  constructor(
    @Inject(READ_MODEL) private readonly readModel: ReadModel,
    @Inject(ALERT_COMMANDS) private readonly commands: AlertCommandSink,
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
      'Appends an `acknowledge` command (who, when, note) to the `alert-commands` stream and returns the alert as the command leaves it ' +
      '(`acknowledgedBy`, `acknowledgedAt`, `note`); the stream processor applies it to the read model within a poll, and a replay applies it again. ' +
      'Acknowledging an acknowledged alert again changes nothing. The alert still clears by itself when the condition ends.',
  })
  @AlertIdParam()
  @CommandResponses('The alert has cleared or is closed.')
  acknowledge(@Param('alertId') alertId: string, @Body() body: AcknowledgeAlertDto): Promise<AlertDto> {
    return this.command(alertId, { action: 'acknowledge', by: body.by, ...(body.note === undefined ? {} : { note: body.note }) });
  }

  @Post(':alertId/close')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Close an open alert, with a reason',
    description:
      'Appends a `close` command (who, when, reason) to the `alert-commands` stream and returns the alert as it leaves it (`state: closed`, ' +
      '`closedBy`, `closedAt`, `reason`). For an alert its rule cannot clear — its line stopped reporting — or one an operator has dealt with. ' +
      'A closed alert stays closed (also after a replay) until reopened, whatever its rule does.',
  })
  @AlertIdParam()
  @CommandResponses('The alert is closed already, or has cleared by itself.', 'reason')
  close(@Param('alertId') alertId: string, @Body() body: CloseAlertDto): Promise<AlertDto> {
    return this.command(alertId, { action: 'close', by: body.by, reason: body.reason });
  }

  @Post(':alertId/reopen')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Reopen a closed alert',
    description:
      'Appends a `reopen` command to the `alert-commands` stream and returns the alert as it leaves it: the closure removed, ' +
      'the state its rule and any acknowledgement give it.',
  })
  @AlertIdParam()
  @CommandResponses('The alert is not closed.')
  reopen(@Param('alertId') alertId: string, @Body() body: ReopenAlertDto): Promise<AlertDto> {
    return this.command(alertId, { action: 'reopen', by: body.by, ...(body.note === undefined ? {} : { note: body.note }) });
  }

  /**
   * Checks the command against the alert as the read model shows it (404 unknown, 409 when it
   * makes no sense now), appends it, and answers with the alert as the command leaves it (the
   * same fold the read model applies). The API never writes the read model itself.
   */
  private async command(alertId: string, fields: Omit<AlertCommandBody, 'alertId' | 'at'>): Promise<AlertDto> {
    const alert = (await this.readModel.alerts({})).find((a) => a.alertId === alertId);
    if (alert === undefined) throw new NotFoundException(`no alert "${alertId}"; GET /alerts lists them`);
    const refused = refusal(alert, fields.action);
    if (refused === 'unchanged') return toAlertDto(alert);
    if (refused !== undefined) throw new ConflictException(refused);
    const command: AlertCommandBody = { ...fields, alertId, at: this.clock() };
    await this.commands.append(alertCommandEnvelope(command, alert));
    const decisions = applyAlertCommand(decisionsOf(alert), command);
    return toAlertDto({ ...alert, ...decisions, state: alertStatus(alert.ruleState, decisions) });
  }
}

function AlertIdParam() {
  return ApiParam({ name: 'alertId', description: 'As listed by GET /alerts.', schema: { type: 'string', minLength: 1, example: 'uv-L07-1' } });
}

/** The answers every command endpoint shares. */
function CommandResponses(conflict: string, required = '') {
  return applyDecorators(
    ApiOkResponse({ type: AlertDto }),
    ApiBadRequestResponse({
      type: ErrorResponseDto,
      description: `The body lacks \`by\`${required ? ` or \`${required}\`` : ''}, has unknown fields, is not a JSON object, or nests more than ${MAX_BODY_DEPTH} levels deep.`,
    }),
    ApiPayloadTooLargeResponse({ type: ErrorResponseDto, description: `The body is larger than ${MAX_BODY_BYTES} bytes.` }),
    ApiUnsupportedMediaTypeResponse({ type: ErrorResponseDto, description: 'The body is not sent as `Content-Type: application/json` (UTF-8).' }),
    ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No alert has this id.' }),
    ApiConflictResponse({ type: ErrorResponseDto, description: `${conflict} The message says what to do instead.` }),
  );
}
