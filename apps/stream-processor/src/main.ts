import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@meterstream/config';
import { exitWithParent, ServiceLogger } from '@meterstream/observability';
import { DistributedProcessorModule, ProcessorModule } from './processor.module';

/**
 * The stream processor: readings → windows and rules → aggregates, alerts, read model.
 *
 * STREAM_BACKEND picks the runtime: embedded (default) runs ProcessorRuntime on the SQLite log,
 * committing outputs, read model and checkpoint in one transaction; kafka and kinesis run the
 * DistributedProcessor (per-partition topologies, checkpoints in the shared store, partitions
 * spread over the instances by the log's consumer group). SIGTERM stops either at a checkpoint.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = new ServiceLogger('stream-processor');
  const app =
    config.STREAM_BACKEND === 'embedded'
      ? await NestFactory.createApplicationContext(ProcessorModule, { logger })
      : // abortOnError: an unreachable engine at start-up must reach main's catch (a message, exit 1), not abort the process.
        await NestFactory.createApplicationContext(DistributedProcessorModule, { logger, abortOnError: false });
  app.enableShutdownHooks();
  exitWithParent();
}

main().catch((err: Error) => {
  console.error(`stream-processor failed to start: ${err.message}`);
  process.exit(1);
});
