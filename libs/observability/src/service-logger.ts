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

  /**
   * A service that refuses to start over a setting (an error with `settingsError: true`, e.g. a
   * ConfigError naming the variable) is reported by its main in one line; NestJS's own report of
   * it keeps the message and drops the stack trace, which says nothing about what to change.
   */
  override error(message: unknown, ...rest: unknown[]): void {
    if (isSettingsError(message)) {
      super.error(message.message, ...rest.filter((r) => typeof r === 'string').slice(-1));
      return;
    }
    super.error(message, ...rest);
  }

  override log(message: unknown, context?: string): void {
    if (context !== undefined && FRAMEWORK_CONTEXTS.has(context)) return;
    super.log(message, ...(context === undefined ? [] : [context]));
  }
}

/** An error about a setting: its message names the variable and what to change. */
export function isSettingsError(err: unknown): err is Error & { settingsError: true } {
  return err instanceof Error && (err as { settingsError?: unknown }).settingsError === true;
}
