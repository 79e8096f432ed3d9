import * as net from 'node:net';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Config } from '@meterstream/config';
import type { EmbeddedBroker } from '@meterstream/mqtt';
import { listenForOperations, MetricsRegistryModule, OperationsModule, sqliteFileCheck, type ReadinessCheck } from '@meterstream/observability';
import type { Registry } from 'prom-client';

export interface IngestOperations {
  url: string;
  close(): Promise<void>;
}

/** The operations endpoints of the ingest that runs in this process, with the checks it is ready by. */
@Module({})
class IngestOperationsModule {
  static forRoot(registry: Registry, checks: ReadinessCheck[], token: string | undefined): DynamicModule {
    return {
      module: IngestOperationsModule,
      imports: [MetricsRegistryModule.forRoot('ingest', registry), OperationsModule.forRoot({ readiness: { useFactory: () => checks }, bearerToken: { useFactory: () => token } })],
    };
  }
}

/**
 * With the embedded broker, ingest runs in `npm start`'s own process: it serves the endpoints the
 * bridge process would (/metrics, /health, /ready on METRICS_HOST:BRIDGE_METRICS_PORT), so the
 * same scrape configuration and dashboard work in both set-ups. Ready while the broker accepts
 * connections and the log's database file is in place and writable.
 */
export async function startIngestOperations(config: Config, registry: Registry, broker: EmbeddedBroker): Promise<IngestOperations> {
  const checks: ReadinessCheck[] = [{ name: 'broker', check: () => acceptsConnections(config.MQTT_HOST, broker.port) }, sqliteFileCheck('stream', config.databaseFile)];
  const app = await NestFactory.create(IngestOperationsModule.forRoot(registry, checks, config.API_TOKEN), { logger: ['error', 'warn'], abortOnError: false });
  try {
    const url = await listenForOperations(app, config.METRICS_HOST, config.BRIDGE_METRICS_PORT, 'BRIDGE_METRICS_PORT');
    return {
      url,
      close: () => app.close(),
    };
  } catch (err) {
    await app.close();
    throw err;
  }
}

/** Resolves once a TCP connection to host:port is accepted (and closes it), rejects otherwise. */
function acceptsConnections(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => reject(new Error(`the embedded MQTT broker does not accept connections on port ${port}: ${err.message}`)));
  });
}
