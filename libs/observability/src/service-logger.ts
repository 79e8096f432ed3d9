import { ConsoleLogger } from '@nestjs/common';

/** NestJS's own start-up chatter: useful when debugging Nest, noise in `npm start`. */
const FRAMEWORK_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/**
 * The logger every service hands to NestJS: one line per event, the framework's start-up lines
 * dropped (warnings and errors from it still pass), colours only on a terminal.
 */
export class ServiceLogger extends ConsoleLogger {
  constructor(service: string) {
    super(service, { colors: Boolean(process.stdout.isTTY), prefix: 'meterstream', logLevels: ['log', 'warn', 'error', 'fatal'] });
  }

  override log(message: unknown, context?: string): void {
    if (context !== undefined && FRAMEWORK_CONTEXTS.has(context)) return;
    super.log(message, ...(context === undefined ? [] : [context]));
  }
}
