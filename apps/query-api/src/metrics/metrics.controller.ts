import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import { METRICS_CONTENT_TYPE, METRICS_REGISTRY } from '@meterstream/observability';
import type { ReadModel } from '@meterstream/read-model';
import { Counter, Gauge, type Registry } from 'prom-client';
import { ErrorResponseDto } from '../common/error-response.dto';
import { READ_MODEL } from '../common/tokens';

export { METRICS_CONTENT_TYPE };

/**
 * Prometheus metrics of the API: its own (request durations by route and status, process
 * metrics) and the pipeline's results, read from the read model at scrape time (so they are the
 * same whichever API instance is scraped, and survive restarts): per-line late and duplicate
 * readings (running totals: counters), delivery delay and open alerts, lines, and refused
 * messages. Behind the bearer token.
 */
@ApiTags('metrics')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'API_TOKEN is set and the request lacks `Authorization: Bearer <token>`.' })
@Controller('metrics')
export class MetricsController {
  constructor(
    @Inject(READ_MODEL) readModel: ReadModel,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {
    registerReadModelMetrics(registry, readModel);
  }

  @Get()
  @Header('Content-Type', METRICS_CONTENT_TYPE)
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  // `content`, not `schema`: a bare schema would be documented as application/json.
  @ApiOkResponse({
    description: 'Prometheus text exposition format, version 0.0.4.',
    content: { 'text/plain': { schema: { type: 'string', example: 'meterstream_lines 3\nmeterstream_dead_letters_total 2\n' } } },
  })
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * The pipeline's figures as the read model holds them, collected once per scrape (one query for
 * the lines, one for the dead letters). Totals the read model keeps are counters set to their
 * stored value (a replay rebuilds them from zero, which Prometheus reads as a counter reset).
 */
function registerReadModelMetrics(registry: Registry, readModel: ReadModel): void {
  if (registry.getSingleMetric('meterstream_lines')) return;
  const registers = [registry];
  let scrape: Promise<Awaited<ReturnType<ReadModel['lines']>>> | undefined;
  // Every collector of one scrape shares one read of the lines (they run concurrently).
  const lines = () => (scrape ??= readModel.lines().finally(() => setImmediate(() => (scrape = undefined))));
  new Gauge({
    name: 'meterstream_lines',
    help: 'Feeder lines that have reported.',
    registers,
    async collect() {
      this.set((await lines()).length);
    },
  });
  type Line = Awaited<ReturnType<ReadModel['lines']>>[number];
  /** A per-line metric: counters are set to the stored total, gauges to the value; a line with no value (null) has no sample (not a 0, which would read as "on time"). */
  const perLine = (kind: 'counter' | 'gauge', name: string, help: string, value: (line: Line) => number | null) => {
    const config = { name, help, labelNames: ['line'] as const, registers };
    if (kind === 'counter') {
      return new Counter({
        ...config,
        async collect() {
          this.reset();
          for (const line of await lines()) this.inc({ line: line.lineId }, value(line) ?? 0);
        },
      });
    }
    return new Gauge({
      ...config,
      async collect() {
        this.reset();
        for (const line of await lines()) {
          const v = value(line);
          if (v !== null) this.set({ line: line.lineId }, v);
        }
      },
    });
  };
  perLine('counter', 'meterstream_late_readings_total', 'Readings that arrived after their window fired (kept in late-readings, merged into no window), per line.', (l) => l.lateReadings);
  perLine('counter', 'meterstream_duplicate_readings_total', 'Redelivered readings recognised by id and counted once, per line.', (l) => l.duplicateReadings);
  perLine('gauge', 'meterstream_open_alerts', 'Alerts raised or acknowledged and not cleared, per line.', (l) => l.openAlerts.length);
  perLine(
    'gauge',
    'meterstream_delivery_delay_seconds',
    "How late a line's readings reach the stream (ingest time minus event time), moving average over its recent readings, as last measured.",
    (l) => (l.deliveryDelay === null ? null : l.deliveryDelay.ewmaMs / 1000),
  );
  perLine(
    'gauge',
    'meterstream_delivery_delay_max_seconds',
    "The highest delivery delay of a line's readings over its last 30 to 60 minutes of arrivals, as last measured.",
    (l) => (l.deliveryDelay === null ? null : l.deliveryDelay.maxMs / 1000),
  );
  new Counter({
    name: 'meterstream_dead_letters_total',
    help: 'Messages refused by the contract, kept in dead-letters (as the read model holds them).',
    registers,
    async collect() {
      this.reset();
      this.inc(await readModel.deadLetterCount());
    },
  });
}
