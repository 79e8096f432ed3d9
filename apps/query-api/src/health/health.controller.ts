import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { toIso } from '../common/time';
import { CLOCK, type Clock } from '../common/tokens';

export class HealthDto {
  @ApiProperty({ enum: ['ok'] })
  status!: 'ok';

  @ApiProperty({ format: 'date-time', description: 'The server clock.' })
  time!: string;

  @ApiProperty({ description: 'Seconds since the API started.' })
  uptimeSeconds!: number;
}

/** Liveness for load balancers and orchestrators: public, even when API_TOKEN is set. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  private readonly startedAt: number;

  constructor(@Inject(CLOCK) private readonly clock: Clock) {
    this.startedAt = clock();
  }

  @Get()
  @Public()
  @ApiOperation({ summary: 'Liveness probe (no token needed)' })
  @ApiOkResponse({ type: HealthDto })
  health(): HealthDto {
    const now = this.clock();
    return { status: 'ok', time: toIso(now), uptimeSeconds: Math.floor((now - this.startedAt) / 1000) };
  }
}
