import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import pino from 'pino';
import type { OperationsConfig } from '@meterstream/config';
import { operationsConfig } from '@meterstream/config/nest';
import { ServiceLogger } from '../service-logger';

/**
 * How a service writes its log: one JSON object per line (pino) with `time` as an ISO-8601 UTC
 * instant, `level` as a word, `service`, the Nest `context` and `msg` — what a log shipper (ECS's
 * awslogs, Loki, Elasticsearch) indexes. On a terminal, or under `npm start` (the launcher sets
 * LOG_FORMAT=pretty and prefixes each line with the service's name), the same records are printed
 * one per line for people: `2026-12-01 10:00:00.000Z INFO  stream-processor: …`, in UTC.
 *
 * Writes synchronously (no worker thread): a line written just before the process exits is not
 * lost, and a parent reading the output sees lines in order.
 */
export function serviceLogOptions(service: string, config: Pick<OperationsConfig, 'LOG_LEVEL' | 'LOG_FORMAT'>): Params {
  const format = config.LOG_FORMAT ?? (process.stdout.isTTY ? 'pretty' : 'json');
  const stream =
    format === 'pretty'
      ? // Required only for the readable format: a service writing JSON never loads it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require('pino-pretty') as typeof import('pino-pretty'))({
          sync: true,
          destination: 1,
          colorize: Boolean(process.stdout.isTTY),
          translateTime: "UTC:yyyy-mm-dd HH:MM:ss.l'Z'",
          ignore: 'pid,hostname,service,context,req,res,responseTime',
          messageFormat: '{if context}{context}: {end}{msg}',
          singleLine: true,
        })
      : pino.destination({ dest: 1, sync: true });
  return {
    pinoHttp: [
      {
        level: config.LOG_LEVEL,
        base: { service },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
        // Requests are measured (the API's request-duration histogram), not logged one by one.
        autoLogging: false,
      },
      stream,
    ],
    // Nest's own start-up chatter (modules loaded, routes mapped) is debug detail, not news.
    renameContext: 'context',
  };
}

/**
 * nestjs-pino for a service (LOG_LEVEL and LOG_FORMAT from the `operations` namespace) and the
 * ServiceLogger its main hands to NestJS: `app.useLogger(app.get(ServiceLogger))`.
 */
@Global()
@Module({})
export class ServiceLoggingModule {
  static forRoot(service: string): DynamicModule {
    return {
      module: ServiceLoggingModule,
      imports: [LoggerModule.forRootAsync({ inject: [operationsConfig.KEY], useFactory: (config: OperationsConfig) => serviceLogOptions(service, config) })],
      providers: [ServiceLogger],
      exports: [ServiceLogger],
    };
  }
}
