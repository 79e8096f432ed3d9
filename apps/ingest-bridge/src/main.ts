import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { announceStarted, exitWithParent, ServiceLogger } from '@meterstream/observability';
import { BridgeAppModule, BridgeRunner } from './bridge.module';

/** The ingest bridge: MQTT line/+/SmartMeterData, or the IoT rule's raw Kinesis stream → stream "readings" (and "dead-letters"). */
async function main(): Promise<void> {
  // abortOnError: a bad setting or an unreachable engine at start-up must reach main's catch (a message, exit 1), not abort the process.
  const app = await NestFactory.createApplicationContext(BridgeAppModule, { logger: new ServiceLogger('ingest-bridge'), abortOnError: false });
  app.enableShutdownHooks();
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
