import { X509Certificate } from 'node:crypto';
import { Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { STREAMS } from '@meterstream/contracts';
import { mqttTlsOptions, type IngestConfig, type IngestSourceConfig, type MqttConfig, type MqttTlsOptions, type OperationsConfig, type StreamConfig } from '@meterstream/config';
import { ingestConfig, ingestSourceConfig, mqttConfig, operationsConfig, serviceConfigModule, streamConfig } from '@meterstream/config/nest';
import { DurableSubscriber } from '@meterstream/mqtt';
import { METRICS_REGISTRY, MetricsRegistryModule, OperationsModule, ServiceLoggingModule, sqliteFileCheck, startRateReporter, type ReadinessCheck } from '@meterstream/observability';
import { STREAM_LOG, StreamLogModule } from '@meterstream/service-modules';
import type { StreamLog } from '@meterstream/stream';
import { createIngest, Ingest, IngestMetrics } from '@meterstream/ingest';
import type { Registry } from 'prom-client';
import { RawStreamRunner } from './raw-stream-runner';

/**
 * Everything under line/, not only line/+/SmartMeterData: a message on a malformed topic
 * (line//SmartMeterData, line/a/b/SmartMeterData) becomes a dead letter with the reason instead
 * of being acknowledged by the broker and dropped for want of a subscriber.
 */
export const INGEST_TOPIC_FILTER = 'line/#';

/**
 * With MQTT_SHARED_GROUP, the bridges of the group share one subscription ($share/<group>/line/#):
 * the broker hands each message to one of them, so bridges scale out against one broker.
 */
export function ingestTopicFilter(sharedGroup: string | undefined): string {
  return sharedGroup ? `$share/${sharedGroup}/${INGEST_TOPIC_FILTER}` : INGEST_TOPIC_FILTER;
}

/** What to change when the broker refused a certificate (the subscriber's message says which side and why). */
export function certificateHint(message: string, tls: MqttTlsOptions | undefined): string {
  if (message.includes("broker's certificate is not trusted")) return 'set MQTT_CA_FILE (or MQTT_CA_PEM) to the CA certificate that signed the broker’s certificate';
  if (!message.includes('client certificate')) return '';
  if (!tls?.cert) return 'set MQTT_CERT_FILE and MQTT_KEY_FILE (or MQTT_CERT_PEM and MQTT_KEY_PEM) to a client certificate the broker accepts';
  const cert = new X509Certificate(tls.cert);
  return `the client certificate (MQTT_CERT_FILE or MQTT_CERT_PEM) is "${cert.subject.replace(/\n/g, ', ')}" issued by "${cert.issuer.replace(/\n/g, ', ')}", valid ${cert.validFrom} to ${cert.validTo}: give one the broker accepts`;
}

/**
 * Wires the MQTT subscription to the bridge logic and owns the subscription's lifecycle. Stops in
 * onModuleDestroy: NestJS destroys this module before the StreamLogModule it imports, so the
 * batch in progress becomes durable and is acknowledged before the log closes.
 */
@Injectable()
export class BridgeRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('ingest-bridge');
  private subscriber: DurableSubscriber | undefined;
  private stopReporter: (() => void) | undefined;
  private refuse: (err: Error) => void = () => undefined;
  /** Settles when the broker refuses the bridge for good after start-up; it has stopped consuming. */
  readonly refused = new Promise<Error>((resolve) => (this.refuse = resolve));
  private readonly metrics: IngestMetrics;

  constructor(
    @Inject(mqttConfig.KEY) private readonly config: MqttConfig,
    @Inject(streamConfig.KEY) private readonly stream: StreamConfig,
    @Inject(ingestSourceConfig.KEY) private readonly source: IngestSourceConfig,
    private readonly bridge: Ingest,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.metrics = new IngestMetrics(registry, bridge, {
      received: () => this.subscriber?.counters.received ?? 0,
      acknowledged: () => this.subscriber?.counters.acknowledged ?? 0,
      inFlight: () => this.subscriber?.inFlight ?? 0,
    });
  }

  /** Connected to the broker with its subscription (readiness). */
  get subscribed(): boolean {
    return this.subscriber?.subscribed ?? false;
  }

  async onApplicationBootstrap(): Promise<void> {
    // INGEST_SOURCE=kinesis-rule: the RawStreamRunner reads the IoT rule's raw stream instead.
    if (this.source.INGEST_SOURCE !== 'mqtt') return;
    const url = this.config.MQTT_URL ?? `mqtt://${this.config.MQTT_HOST}:${this.config.MQTT_PORT}`;
    const topic = ingestTopicFilter(this.config.MQTT_SHARED_GROUP);
    const tls = mqttTlsOptions(this.config);
    const subscriber = new DurableSubscriber({
      url,
      clientId: this.config.MQTT_CLIENT_ID,
      topics: [topic],
      username: this.config.MQTT_USERNAME,
      password: this.config.MQTT_PASSWORD,
      tls,
      maxBatch: this.config.BRIDGE_BATCH_MAX,
      maxInFlight: this.config.BRIDGE_MAX_INFLIGHT,
      handleBatch: this.metrics.handler(),
    });
    subscriber.on('error', (err: Error) => this.logger.warn(`MQTT: ${err.message}`));
    subscriber.on('batch-error', (err: Error) => this.logger.error(`the stream could not take the batch; it stays unacknowledged and is retried: ${err.message}`));
    subscriber.on('disconnect', () => this.logger.warn(`disconnected from ${url}; reconnecting`));
    subscriber.on('connect', ({ sessionPresent }: { sessionPresent: boolean }) =>
      this.logger.log(`connected to ${url} as ${this.config.MQTT_CLIENT_ID} (${sessionPresent ? 'resumed session' : 'new session'}), subscribed to ${topic}`),
    );
    const explained = (err: Error) => {
      const hint = certificateHint(err.message, tls);
      return hint ? `${err.message}; ${hint}` : err.message;
    };
    // A refusal after start (credentials revoked, a certificate expired while running): say so;
    // main closes the service and exits 1, for the supervisor to restart, rather than idle unsubscribed.
    subscriber.on('fatal', (err: Error) => {
      this.logger.error(`${explained(err)}; stopping`);
      this.refuse(err);
    });
    this.subscriber = subscriber;
    this.logger.log(`appending to ${describeStreamLog(this.stream)}`);
    await subscriber.start().catch((err: Error) => {
      throw new Error(explained(err));
    });
    this.stopReporter = startRateReporter(
      'ingest',
      () => ({ readings: this.bridge.counters.readings, deadLetters: this.bridge.counters.deadLetters, inFlight: subscriber.inFlight }),
      (line) => this.logger.log(line),
      10_000,
      ['inFlight'],
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopReporter?.();
    // Let the batch in progress become durable and be acknowledged before the log closes.
    await this.subscriber?.stop();
    this.logger.log(`stopped after ${this.bridge.counters.readings} readings and ${this.bridge.counters.deadLetters} dead letters`);
  }
}

/** Where the bridge's appends go (STREAM_BACKEND), for the start-up line. */
function describeStreamLog(config: StreamConfig): string {
  switch (config.STREAM_BACKEND) {
    case 'embedded':
      return `the embedded log ${config.databaseFile}`;
    case 'kafka':
      return `Kafka ${config.KAFKA_BROKERS} (topics ${config.KAFKA_TOPIC_PREFIX}*)`;
    case 'kinesis':
      return `Kinesis ${config.KINESIS_ENDPOINT ?? config.AWS_REGION} (streams ${config.KINESIS_STREAM_PREFIX}*)`;
  }
}

/**
 * What the bridge's readiness (/ready) depends on: the MQTT broker (subscribed; with
 * INGEST_SOURCE=mqtt) and the stream (the embedded file, or Kafka/Kinesis answering).
 */
function bridgeReadiness(runner: BridgeRunner, stream: StreamConfig, source: IngestSourceConfig, log: StreamLog): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [
    stream.STREAM_BACKEND === 'embedded'
      ? sqliteFileCheck('stream', stream.databaseFile)
      : { name: 'stream', check: async () => void (await log.backlog(STREAMS.readings, (await log.partitions(STREAMS.readings))[0], null)) },
  ];
  if (source.INGEST_SOURCE === 'mqtt') {
    checks.push({
      name: 'broker',
      check: () => {
        if (!runner.subscribed) throw new Error('not connected to the MQTT broker (MQTT_URL) with its subscription; reconnecting');
      },
    });
  }
  return checks;
}

export const BRIDGE_READINESS = Symbol('BridgeReadiness');

/** The ingest over the stream log (the contract's bounds from the `ingest` namespace) and its two inputs; INGEST_SOURCE starts one. */
@Module({
  imports: [StreamLogModule.register()],
  providers: [
    { provide: Ingest, useFactory: (log: StreamLog, config: IngestConfig) => createIngest(log, config), inject: [STREAM_LOG, ingestConfig.KEY] },
    BridgeRunner,
    RawStreamRunner,
    { provide: BRIDGE_READINESS, useFactory: bridgeReadiness, inject: [BridgeRunner, streamConfig.KEY, ingestSourceConfig.KEY, STREAM_LOG] },
  ],
  exports: [BRIDGE_READINESS],
})
export class BridgeModule {}

/**
 * The ingest-bridge service: its configuration namespaces (read and validated once, global), its
 * logger and metrics registry, the bridge, and its operations endpoints (/health, /ready, /metrics
 * on METRICS_HOST:BRIDGE_METRICS_PORT). STREAM_BACKEND picks the log (embedded, Kafka or Kinesis);
 * INGEST_SOURCE what it reads: its MQTT subscription (BridgeRunner) or the IoT rule's raw Kinesis
 * stream (RawStreamRunner).
 */
@Module({
  imports: [
    serviceConfigModule([mqttConfig, ingestConfig, ingestSourceConfig, streamConfig, operationsConfig]),
    ServiceLoggingModule.forRoot('ingest-bridge'),
    MetricsRegistryModule.forRoot('ingest-bridge'),
    BridgeModule,
    OperationsModule.forRoot({
      imports: [BridgeModule],
      readiness: { useFactory: (checks: ReadinessCheck[]) => checks, inject: [BRIDGE_READINESS] },
      bearerToken: { useFactory: (config: OperationsConfig) => config.API_TOKEN, inject: [operationsConfig.KEY] },
    }),
  ],
})
export class BridgeAppModule {}
