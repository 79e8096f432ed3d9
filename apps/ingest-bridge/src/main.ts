import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { OperationsConfig } from '@meterstream/config';
import { operationsConfig } from '@meterstream/config/nest';
import { announceStarted, exitWithParent, listenForOperations, ServiceLogger, StartupLogger } from '@meterstream/observability';
import { BridgeAppModule, BridgeRunner } from './bridge.module';

/**
 * The ingest bridge: MQTT line/+/SmartMeterData, or the IoT rule's raw Kinesis stream → stream
 * "readings" (and "dead-letters"). Serves /health, /ready and /metrics on
 * METRICS_HOST:BRIDGE_METRICS_PORT.
 */
async function main(): Promise<void> {
  // abortOnError: a bad setting or an unreachable engine at start-up must reach main's catch (a message, exit 1), not abort the process.
  const app = await NestFactory.create(BridgeAppModule, { logger: new StartupLogger('ingest-bridge'), bufferLogs: true, abortOnError: false });
  const logger = app.get(ServiceLogger);
  app.useLogger(logger);
  // An HTTP application flushes buffered logs only once init() completes; the bootstrap (which
  // may wait for a broker) must be heard as it happens.
  app.flushLogs();
  app.enableShutdownHooks();
  const ops = app.get<OperationsConfig>(operationsConfig.KEY);
  const url = await listenForOperations(app, ops.METRICS_HOST, ops.BRIDGE_METRICS_PORT, 'BRIDGE_METRICS_PORT');
  logger.log(`metrics and health on ${url}/metrics, ${url}/health, ${url}/ready`, 'ingest-bridge');
  exitWithParent();
  announceStarted();
  // Refused for good after start-up (already logged with the reason): close what is open, exit 1.
  void app
    .get(BridgeRunner)
    .refused.then(() => app.close())
    .finally(() => process.exit(1));
}

main().catch((err: Error) => {
  console.error(`ingest-bridge failed to start: ${err.message}`);
  process.exit(1);
});
