import { Module } from '@nestjs/common';
import type { OperationsConfig } from '@meterstream/config';
import {
  alertChannelsConfig,
  modelRegistryConfig,
  operationsConfig,
  processorConfig,
  readModelConfig,
  serviceConfigModule,
  streamConfig,
  timeSeriesConfig,
} from '@meterstream/config/nest';
import { MetricsRegistryModule, OperationsModule, ServiceLoggingModule, type ReadinessCheck } from '@meterstream/observability';
import { EmbeddedDatabaseModule } from '@meterstream/service-modules';
import { PROCESSOR_READINESS, ProcessorModule } from './processor.module';

/**
 * The stream-processor service: its configuration namespaces (read and validated once, global),
 * its logger (nestjs-pino) and metrics registry, on the embedded backend one SQLite handle for the
 * log, read model and checkpoints, the processor with its port modules, and its operations
 * endpoints (/health, /ready, /metrics on METRICS_HOST:PROCESSOR_METRICS_PORT).
 *
 * Everything the processor writes is derived from the durable readings log and committed together
 * with its checkpoint, so the shared handle needs no fsync per commit (synchronous=NORMAL): after
 * an OS crash the last commits are lost *together* and recomputed identically from the log. (WAL
 * keeps the file consistent either way; ingest's appends stay synchronous=FULL.)
 */
@Module({
  imports: [
    serviceConfigModule([streamConfig, readModelConfig, timeSeriesConfig, alertChannelsConfig, processorConfig, modelRegistryConfig, operationsConfig]),
    ServiceLoggingModule.forRoot('stream-processor'),
    MetricsRegistryModule.forRoot('stream-processor'),
    EmbeddedDatabaseModule.forRoot({ synchronous: 'normal' }),
    ProcessorModule,
    OperationsModule.forRoot({
      imports: [ProcessorModule],
      readiness: { useFactory: (checks: ReadinessCheck[]) => checks, inject: [PROCESSOR_READINESS] },
      bearerToken: { useFactory: (config: OperationsConfig) => config.API_TOKEN, inject: [operationsConfig.KEY] },
    }),
  ],
})
export class ProcessorAppModule {}
