import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { Public } from '../auth/public.decorator';
import { runReadinessCheck, type ReadinessCheck } from './readiness-check';

/** What a service's readiness depends on (ReadinessCheck[]), provided by the service's module. */
export const READINESS_CHECKS = Symbol('ReadinessChecks');

/**
 * Liveness and readiness through @nestjs/terminus, public on every service (orchestrators and load
 * balancers send no token):
 * - `GET /health`: the process is up and serving (200 `{"status":"ok"}`); restart it when not.
 * - `GET /ready`: every dependency answers (200), or 503 with each one's state and, for those
 *   down, why (`{"status":"error","error":{"database":{"status":"down","message":"…"}}}`); stop
 *   sending it work, do not restart it.
 */
@ApiTags('health')
@Controller()
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[],
  ) {}

  @Get('health')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Liveness probe (no token needed): the process is up' })
  @ApiOkResponse({ description: 'terminus health-check result: `{"status":"ok","info":{},"error":{},"details":{}}`' })
  liveness(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({ summary: 'Readiness probe (no token needed): the database, broker and stream are reachable' })
  @ApiOkResponse({ description: 'Every dependency is up: `{"status":"ok","details":{"database":{"status":"up"},…}}`' })
  @ApiServiceUnavailableResponse({ description: 'A dependency is down: `{"status":"error","error":{"database":{"status":"down","message":"…"}},…}`' })
  readiness(): Promise<HealthCheckResult> {
    return this.health.check(
      this.checks.map((check) => async () => {
        const problem = await runReadinessCheck(check);
        const session = this.indicator.check(check.name);
        return problem === null ? session.up() : session.down({ message: problem });
      }),
    );
  }
}
