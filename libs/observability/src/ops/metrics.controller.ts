import { Controller, Get, Header, Inject, UseGuards } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { BearerTokenGuard } from '../auth/bearer-token.guard';

/** The service's prom-client registry (createServiceRegistry): modules register their metrics in it. */
export const METRICS_REGISTRY = Symbol('MetricsRegistry');

/** prom-client's text exposition format 0.0.4. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** `GET /metrics` of a service's registry for Prometheus; needs the bearer token when API_TOKEN is set. */
@Controller('metrics')
@UseGuards(BearerTokenGuard)
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get()
  @Header('Content-Type', METRICS_CONTENT_TYPE)
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
