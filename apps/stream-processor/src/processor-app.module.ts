import { Module } from '@nestjs/common';
import { alertChannelsConfig, modelRegistryConfig, processorConfig, readModelConfig, serviceConfigModule, streamConfig, timeSeriesConfig } from '@meterstream/config/nest';
import { EmbeddedDatabaseModule } from '@meterstream/service-modules';
import { ProcessorModule } from './processor.module';

/**
 * The stream-processor service: its configuration namespaces (read and validated once, global),
 * on the embedded backend one SQLite handle for the log, read model and checkpoints, and the
 * processor with its port modules.
 *
 * Everything the processor writes is derived from the durable readings log and committed together
 * with its checkpoint, so the shared handle needs no fsync per commit (synchronous=NORMAL): after
 * an OS crash the last commits are lost *together* and recomputed identically from the log. (WAL
 * keeps the file consistent either way; ingest's appends stay synchronous=FULL.)
 */
@Module({
  imports: [
    serviceConfigModule([streamConfig, readModelConfig, timeSeriesConfig, alertChannelsConfig, processorConfig, modelRegistryConfig]),
    EmbeddedDatabaseModule.forRoot({ synchronous: 'normal' }),
    ProcessorModule,
  ],
})
export class ProcessorAppModule {}
