import { Controller, Get, Header, Inject } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { ReadModel } from '@meterstream/read-model';
import { Gauge, Registry } from 'prom-client';
import { ErrorResponseDto } from '../common/error-response.dto';
import { READ_MODEL } from '../common/tokens';

/** What the route sends (prom-client's text exposition format 0.0.4), and so what the document says. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Prometheus metrics of the pipeline's results, read from the read model at scrape time (so they
 * are the same whichever API instance is scraped, and survive restarts): per-line late and
 * duplicate readings, delivery delay and open alerts, lines, and refused messages. Behind the
 * bearer token.
 */
@ApiTags('metrics')
@ApiBearerAuth()
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'API_TOKEN is set and the request lacks `Authorization: Bearer <token>`.' })
@Controller('metrics')
export class MetricsController {
  private readonly registry = new Registry();
  private readonly lines = this.gauge('meterstream_lines', 'Feeder lines that have reported.');
  private readonly late = this.gauge('meterstream_late_readings', 'Readings that arrived after their window fired (kept in late-readings, merged into no window), per line; a running total.', ['line']);
  private readonly duplicates = this.gauge('meterstream_duplicate_readings', 'Redelivered readings recognised by id and counted once, per line; a running total.', ['line']);
  private readonly openAlerts = this.gauge('meterstream_open_alerts', 'Alerts raised or acknowledged and not cleared, per line.', ['line']);
  private readonly delay = this.gauge(
    'meterstream_delivery_delay_seconds',
    "How late a line's readings reach the stream (ingest time minus event time), moving average over its recent readings, as last measured.",
    ['line'],
  );
  private readonly delayMax = this.gauge(
    'meterstream_delivery_delay_max_seconds',
    "The highest delivery delay of a line's readings over its last 30 to 60 minutes of arrivals, as last measured.",
    ['line'],
  );
  private readonly deadLetters = this.gauge('meterstream_dead_letters', 'Messages refused by the contract, kept in dead-letters (as retained by the read model).');

  constructor(@Inject(READ_MODEL) private readonly readModel: ReadModel) {}

  @Get()
  @Header('Content-Type', METRICS_CONTENT_TYPE)
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  // `content`, not `schema`: a bare schema would be documented as application/json.
  @ApiOkResponse({
    description: 'Prometheus text exposition format, version 0.0.4.',
    content: { 'text/plain': { schema: { type: 'string', example: 'meterstream_lines 3\nmeterstream_dead_letters 2\n' } } },
  })
  async metrics(): Promise<string> {
    const summaries = await this.readModel.lines();
    this.lines.set(summaries.length);
    for (const gauge of [this.late, this.duplicates, this.openAlerts, this.delay, this.delayMax]) gauge.reset();
    for (const line of summaries) {
      this.late.set({ line: line.lineId }, line.lateReadings);
      this.duplicates.set({ line: line.lineId }, line.duplicateReadings);
      this.openAlerts.set({ line: line.lineId }, line.openAlerts.length);
      // A line without a measurement yet has no sample (not a 0, which would read as "on time").
      if (line.deliveryDelay !== null) {
        this.delay.set({ line: line.lineId }, line.deliveryDelay.ewmaMs / 1000);
        this.delayMax.set({ line: line.lineId }, line.deliveryDelay.maxMs / 1000);
      }
    }
    this.deadLetters.set(await this.readModel.deadLetterCount());
    return this.registry.metrics();
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}
