import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { ReadModel } from '@meterstream/read-model';
import { ErrorResponseDto } from '../common/error-response.dto';
import { READ_MODEL } from '../common/tokens';
import { AlertListDto, AlertsQuery, DEFAULT_ALERT_LIMIT, toAlertDto } from './alert.dto';

@ApiTags('alerts')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'API_TOKEN is set and the request lacks `Authorization: Bearer <token>`.' })
@Controller('alerts')
export class AlertsController {
  constructor(@Inject(READ_MODEL) private readonly readModel: ReadModel) {}

  @Get()
  @ApiOperation({ summary: 'Alerts, newest raised first', description: 'One entry per alert with its current state.' })
  @ApiOkResponse({ type: AlertListDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A query parameter is invalid or unknown.' })
  async list(@Query() query: AlertsQuery): Promise<AlertListDto> {
    const rows = await this.readModel.alerts({ state: query.state, lineId: query.lineId, limit: query.limit ?? DEFAULT_ALERT_LIMIT });
    return { alerts: rows.map(toAlertDto) };
  }
}
