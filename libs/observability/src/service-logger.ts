import { ConsoleLogger, Injectable } from '@nestjs/common';
import { Logger, PinoLogger } from 'nestjs-pino';

/** NestJS's own start-up chatter: useful when debugging Nest, noise in `npm start`. Logged at debug. */
const FRAMEWORK_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

/**
 * The logger every service hands to NestJS (`app.useLogger(app.get(ServiceLogger))`): nestjs-pino
 * (structured JSON, LOG_LEVEL; see serviceLogOptions), with the framework's start-up lines moved
 * to debug and a refused setting reported as its message alone.
 */
@Injectable()
export class ServiceLogger extends Logger {
  constructor(logger: PinoLogger) {
    super(logger, {});
  }

  /**
   * A service that refuses to start over a setting (an error with `settingsError: true`, e.g. a
   * ConfigError naming the variable) is reported by its main, once, without a stack trace (which
   * says nothing about what to change): NestJS's own report of the same error is dropped.
   */
  override error(message: unknown, ...rest: unknown[]): void {
    if (isSettingsError(message)) return;
    super.error(message, ...rest);
  }

  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    if (typeof context === 'string' && FRAMEWORK_CONTEXTS.has(context)) {
      super.debug(message, ...rest);
      return;
    }
    super.log(message, ...rest);
  }
}

/** An error about a setting: its message names the variable and what to change. */
export function isSettingsError(err: unknown): err is Error & { settingsError: true } {
  return err instanceof Error && (err as { settingsError?: unknown }).settingsError === true;
}

/**
 * What a service logs with until its own logger is built (NestFactory's `logger` option, with
 * `bufferLogs`): when the start fails before that — a refused setting, an engine that does not
 * answer — NestJS reports it through this one. A line per event, the framework's start-up lines
 * dropped; a refused setting is left to main, which prints its message alone (no stack trace). Once the service is built,
 * `app.useLogger(app.get(ServiceLogger))` takes over, and what was buffered goes to pino.
 */
export class StartupLogger extends ConsoleLogger {
  constructor(service: string) {
    super(service, { colors: Boolean(process.stderr.isTTY), prefix: 'meterstream', logLevels: ['log', 'warn', 'error', 'fatal'] });
  }

  /** A refused setting is reported by the service's main, once (see ServiceLogger.error): dropped here. */
  override error(message: unknown, ...rest: unknown[]): void {
    if (isSettingsError(message)) return;
    super.error(message, ...rest);
  }

  override log(message: unknown, context?: string): void {
    if (context !== undefined && FRAMEWORK_CONTEXTS.has(context)) return;
    super.log(message, ...(context === undefined ? [] : [context]));
  }
}
