import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { exitWithParent } from '@meterstream/observability';
import { ProcessorModule } from './processor.module';

/** The stream processor: readings → windows and rules → aggregates, alerts, read model. */
async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(ProcessorModule, { logger: ['log', 'warn', 'error'] });
  app.enableShutdownHooks();
  exitWithParent();
}

main().catch((err: Error) => {
  console.error(`stream-processor failed to start: ${err.message}`);
  process.exit(1);
});
