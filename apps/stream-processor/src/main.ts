import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { announceStarted, exitWithParent, ServiceLogger } from '@meterstream/observability';
import { ProcessorAppModule } from './processor-app.module';

/**
 * The stream processor: readings → windows and rules → aggregates, alerts, read model.
 *
 * One runtime on every backend (StreamProcessor: a topology per owned partition, partitions spread
 * by the log's consumer group). STREAM_BACKEND picks the ports and the commit strategy: embedded
 * (default) commits outputs, read model and checkpoints in one SQLite transaction; kafka and
 * kinesis flush outputs and sinks, then checkpoint in the shared store. SIGTERM stops it at a
 * checkpoint.
 */
async function main(): Promise<void> {
  const logger = new ServiceLogger('stream-processor');
  // abortOnError: an unreachable engine at start-up must reach main's catch (a message, exit 1), not abort the process.
  const app = await NestFactory.createApplicationContext(ProcessorAppModule, { logger, abortOnError: false });
  app.enableShutdownHooks();
  exitWithParent();
  announceStarted();
}

main().catch((err: Error) => {
  console.error(`stream-processor failed to start: ${err.message}`);
  process.exit(1);
});
