import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { exitWithParent, ServiceLogger } from '@meterstream/observability';
import { ProcessorModule } from './processor.module';

/** The stream processor: readings → windows and rules → aggregates, alerts, read model. */
async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(ProcessorModule, { logger: new ServiceLogger('stream-processor') });
  app.enableShutdownHooks();
  exitWithParent();
}

main().catch((err: Error) => {
  console.error(`stream-processor failed to start: ${err.message}`);
  process.exit(1);
});
