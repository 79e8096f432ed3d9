import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { OperationsConfig } from '@meterstream/config';
import { operationsConfig } from '@meterstream/config/nest';
import { announceStarted, exitWithParent, listenForOperations, ServiceLogger, StartupLogger } from '@meterstream/observability';
import { ProcessorAppModule } from './processor-app.module';

/**
 * The stream processor: readings → windows and rules → aggregates, alerts, read model.
 *
 * One runtime on every backend (StreamProcessor: a topology per owned partition, partitions spread
 * by the log's consumer group). STREAM_BACKEND picks the ports and the commit strategy: embedded
 * (default) commits outputs, read model and checkpoints in one SQLite transaction; kafka and
 * kinesis flush outputs and sinks, then checkpoint in the shared store. SIGTERM stops it at a
 * checkpoint. Serves /health, /ready and /metrics on METRICS_HOST:PROCESSOR_METRICS_PORT.
 */
async function main(): Promise<void> {
  // abortOnError: an unreachable engine at start-up must reach main's catch (a message, exit 1), not abort the process.
  const app = await NestFactory.create(ProcessorAppModule, { logger: new StartupLogger('stream-processor'), bufferLogs: true, abortOnError: false });
  const logger = app.get(ServiceLogger);
  app.useLogger(logger);
  // An HTTP application flushes buffered logs only once init() completes; the bootstrap (which
  // may wait for a broker) must be heard as it happens.
  app.flushLogs();
  app.enableShutdownHooks();
  const ops = app.get<OperationsConfig>(operationsConfig.KEY);
  const url = await listenForOperations(app, ops.METRICS_HOST, ops.PROCESSOR_METRICS_PORT, 'PROCESSOR_METRICS_PORT');
  logger.log(`metrics and health on ${url}/metrics, ${url}/health, ${url}/ready`, 'stream-processor');
  exitWithParent();
  announceStarted();
}

main().catch((err: Error) => {
  console.error(`stream-processor failed to start: ${err.message}`);
  process.exit(1);
});
