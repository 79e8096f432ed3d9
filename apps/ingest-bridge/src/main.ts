import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { exitWithParent, ServiceLogger } from '@meterstream/observability';
import { BridgeModule } from './bridge.module';

/** The ingest bridge: MQTT line/+/SmartMeterData → stream "readings" (and "dead-letters"). */
async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(BridgeModule, { logger: new ServiceLogger('ingest-bridge') });
  app.enableShutdownHooks();
  exitWithParent();
}

main().catch((err: Error) => {
  console.error(`ingest-bridge failed to start: ${err.message}`);
  process.exit(1);
});
