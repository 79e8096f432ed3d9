import { Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { AlertDispatcher, MqttAlertChannel, RateLimitedAlertChannel, type AlertChannel } from '@meterstream/alert-channels';
import { STREAMS, type AlertEnvelope } from '@meterstream/contracts';
import type { ProcessorConfig, ReadModelConfig, StreamConfig, TimeSeriesConfig } from '@meterstream/config';
import { processorConfig, readModelConfig, streamConfig, timeSeriesConfig } from '@meterstream/config/nest';
import type { FileModelRegistry } from '@meterstream/model-registry';
import { METRICS_REGISTRY, sqliteFileCheck, startRateReporter, type ReadinessCheck } from '@meterstream/observability';
import type { Registry } from 'prom-client';
import { SqliteReadModel, type ReadModel } from '@meterstream/read-model';
import {
  ALERT_CHANNELS,
  AlertChannelsModule,
  CHECKPOINT_STORE,
  EMBEDDED_DATABASE,
  MODEL_REGISTRY,
  ModelRegistryModule,
  READ_MODEL,
  ReadModelModule,
  STREAM_LOG,
  StreamLogModule,
  TIME_SERIES_SINK,
  TimeSeriesModule,
} from '@meterstream/service-modules';
import { EmbeddedStreamLog, SqliteCheckpointStore, type PartitionCheckpointStore, type StreamLog } from '@meterstream/stream';
import type { TimeSeriesSink } from '@meterstream/timeseries';
import { createStreamProcessor, embeddedStreamProcessorOn, PROCESSOR_GROUP, type StreamProcessorDeps } from './runtime/create-stream-processor';
import type { StreamProcessor } from './runtime/stream-processor';
import { registerAlertChannelMetrics } from './metrics/alert-channel-metrics';
import { ProcessorMetrics } from './metrics/processor-metrics';

export const STREAM_PROCESSOR = Symbol('StreamProcessor');
export const ALERT_DISPATCHER = Symbol('AlertDispatcher');
export const PROCESSOR_METRICS = Symbol('ProcessorMetrics');
export const PROCESSOR_READINESS = Symbol('ProcessorReadiness');

/** How often the owned partitions are compared with the last ones logged. */
const OWNERSHIP_CHECK_MS = 500;

/**
 * The processor's consumer group on `readings` and the namespace of its checkpoints. Kafka group
 * ids are cluster-wide and the Kinesis checkpoints of every deployment on a host share one store,
 * so the deployment's topic/stream prefix is part of the name: two deployments (or test runs) on
 * one cluster never join each other's group or resume from each other's checkpoints.
 */
export function processorGroup(config: Pick<StreamConfig, 'STREAM_BACKEND' | 'KAFKA_TOPIC_PREFIX' | 'KINESIS_STREAM_PREFIX'>): string {
  switch (config.STREAM_BACKEND) {
    case 'kafka':
      return `${config.KAFKA_TOPIC_PREFIX}${PROCESSOR_GROUP}`;
    case 'kinesis':
      return `${config.KINESIS_STREAM_PREFIX}${PROCESSOR_GROUP}`;
    case 'embedded':
      return PROCESSOR_GROUP;
  }
}

/** Where the streams, checkpoints, read model and time series live, for the start-up line. */
export function describeBackends(stream: StreamConfig, readModel: ReadModelConfig, timeSeries: Pick<TimeSeriesConfig, 'TIMESERIES_BACKEND'>): string {
  const streams =
    stream.STREAM_BACKEND === 'kafka'
      ? `Kafka ${stream.KAFKA_BROKERS} (topics ${stream.KAFKA_TOPIC_PREFIX}*, checkpoints in ${stream.KAFKA_TOPIC_PREFIX}_checkpoints)`
      : stream.STREAM_BACKEND === 'kinesis'
        ? `Kinesis ${stream.KINESIS_ENDPOINT ?? stream.AWS_REGION} (streams ${stream.KINESIS_STREAM_PREFIX}*, leases and checkpoints in DynamoDB table ${stream.KINESIS_LEASE_TABLE})`
        : `the embedded log ${stream.databaseFile}`;
  const model =
    readModel.READ_MODEL_BACKEND === 'elasticsearch' ? `Elasticsearch ${readModel.ELASTICSEARCH_URL} (indices ${readModel.ELASTICSEARCH_INDEX_PREFIX}*)` : `SQLite ${readModel.databaseFile}`;
  // The embedded processor writes no time-series sink: its read model keeps the raw readings.
  const series = stream.STREAM_BACKEND === 'embedded' ? 'raw readings in the read model' : timeSeries.TIMESERIES_BACKEND;
  return `streams on ${streams}; read model ${model}; time series ${series}`;
}

/**
 * The processor over the ports of its modules. On the embedded default they share one SQLite
 * handle (EmbeddedDatabaseModule), so the commit of a poll — outputs, read model, checkpoints —
 * is one transaction; on Kafka/Kinesis it flushes outputs and sinks, then checkpoints in the
 * shared store.
 */
function buildStreamProcessor(
  config: ProcessorConfig,
  stream: StreamConfig,
  models: FileModelRegistry,
  ports: { log: StreamLog; readModel: ReadModel; checkpoints: PartitionCheckpointStore; timeSeries: TimeSeriesSink | null; db: Database.Database | null | undefined },
  metrics: ProcessorMetrics,
): StreamProcessor {
  const logger = new Logger('stream-processor');
  const alertLogger = new Logger('alerts');
  const deps: StreamProcessorDeps = {
    models,
    onModelInstalled: (version) => logger.log(`installed voltage model version ${version} from ${models.dir}`),
    onError: (err) => logger.error(err.message),
    onCommitted: (output, now) => {
      metrics.committed(output, now);
      // Each alert raised or cleared is logged once, here, where it is emitted (not by every channel).
      for (const alert of output.alerts) if (alert.body.state === 'raised' || alert.body.state === 'cleared') alertLogger.log(alertLogRecord(alert));
    },
  };
  const group = processorGroup(stream);
  const { db, log, readModel, checkpoints, timeSeries } = ports;
  if (db) {
    if (!(log instanceof EmbeddedStreamLog && readModel instanceof SqliteReadModel && checkpoints instanceof SqliteCheckpointStore)) {
      throw new Error('the embedded processor needs its log, read model and checkpoints on the shared embedded database');
    }
    return embeddedStreamProcessorOn({ ...config, STREAM_PARTITIONS: stream.STREAM_PARTITIONS, LOG_RETENTION_HOURS: stream.LOG_RETENTION_HOURS }, { db, log, readModel, checkpoints }, deps, { group });
  }
  return createStreamProcessor(config, { log, readModel, checkpoints, timeSeries: timeSeries ?? undefined }, deps, { group });
}

/** One structured log record per alert raised or cleared: the message for people, the fields for a log search. */
export function alertLogRecord(alert: AlertEnvelope): Record<string, unknown> {
  const { alertId, kind, state, severity, lineId, deviceId, message, evidence } = alert.body;
  return {
    msg: `alert ${state}: ${kind} (${severity}) on ${deviceId ? `meter ${deviceId} of line ${lineId}` : `line ${lineId}`}: ${message}`,
    alert: { alertId, kind, state, severity, lineId, deviceId, eventTime: new Date(alert.eventTime).toISOString(), value: evidence.value, threshold: evidence.threshold },
  };
}

/**
 * What the processor's readiness (/ready) depends on: its database (the embedded SQLite file, or
 * the read model's cluster), the stream (Kafka or Kinesis answering), and the MQTT broker when the
 * mqtt alert channel is on.
 */
function processorReadiness(stream: StreamConfig, readModelConfig: ReadModelConfig, log: StreamLog, readModel: ReadModel, channels: AlertChannel[]): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [];
  if (stream.STREAM_BACKEND === 'embedded') checks.push(sqliteFileCheck('database', stream.databaseFile));
  else {
    checks.push({ name: 'stream', check: async () => void (await log.backlog(STREAMS.readings, (await log.partitions(STREAMS.readings))[0], null)) });
    if (readModelConfig.READ_MODEL_BACKEND === 'sqlite') checks.push(sqliteFileCheck('database', readModelConfig.databaseFile));
  }
  if (readModelConfig.READ_MODEL_BACKEND === 'elasticsearch') checks.push({ name: 'read-model', check: async () => void (await readModel.deadLetterCount()) });
  for (const channel of channels) {
    const inner = channel instanceof RateLimitedAlertChannel ? channel.inner : channel;
    if (inner instanceof MqttAlertChannel) {
      checks.push({
        name: 'broker',
        check: () => {
          if (!inner.connected) throw new Error('the mqtt alert channel is not connected to the MQTT broker (MQTT_URL); alerts wait for it');
        },
      });
    }
  }
  return checks;
}

/**
 * Runs the processor and the alert dispatcher over the same log. Logs a rate line every ten
 * seconds, and one line whenever this instance's share of the partitions changes (a rebalance:
 * an instance joined, left or died).
 *
 * Stops in onModuleDestroy: NestJS destroys this module before the port modules it imports, so
 * the processor checkpoints and the dispatcher finishes its deliveries before any port closes.
 */
@Injectable()
export class ProcessorRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('stream-processor');
  private stopReporter: (() => void) | undefined;
  private ownershipTimer: NodeJS.Timeout | undefined;
  private ownedLogged: string | undefined;

  constructor(
    @Inject(STREAM_PROCESSOR) private readonly processor: StreamProcessor,
    @Inject(ALERT_DISPATCHER) private readonly dispatcher: AlertDispatcher,
    @Inject(PROCESSOR_METRICS) private readonly metrics: ProcessorMetrics,
    @Inject(streamConfig.KEY) private readonly stream: StreamConfig,
    @Inject(readModelConfig.KEY) private readonly readModel: ReadModelConfig,
    @Inject(timeSeriesConfig.KEY) private readonly timeSeries: TimeSeriesConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { processor, dispatcher } = this;
    this.metrics.attach(processor);
    this.logger.log(`${describeBackends(this.stream, this.readModel, this.timeSeries)}; consumer group ${processorGroup(this.stream)}`);
    await processor.start();
    dispatcher.start();
    this.logger.log('processing readings and dead-letters');
    this.logOwnership();
    this.ownershipTimer = setInterval(() => this.logOwnership(), OWNERSHIP_CHECK_MS);
    this.ownershipTimer.unref();
    this.stopReporter = startRateReporter(
      'processor',
      () => {
        const { readings, aggregates, alerts, late } = processor.counters;
        const { openWindows } = processor.stats();
        return { readings, aggregates, alerts, late, openWindows };
      },
      (line) => this.logger.log(line),
      10_000,
      ['openWindows'],
    );
  }

  async onModuleDestroy(): Promise<void> {
    const { processor, dispatcher } = this;
    this.stopReporter?.();
    clearInterval(this.ownershipTimer);
    // Checkpoints every owned partition, then leaves the group: the others resume from there.
    try {
      await processor.stop();
    } finally {
      await dispatcher.stop({ timeoutMs: 5_000 });
    }
    const { readings, aggregates, alerts, checkpoints } = processor.counters;
    this.logger.log(`stopped at a checkpoint after ${readings} readings (${aggregates} aggregates, ${alerts} alerts, ${checkpoints} checkpoints)`);
  }

  private logOwnership(): void {
    const owned = this.processor.ownedPartitions();
    const text = owned.length === 0 ? 'owns no readings partition' : `owns readings partitions ${owned.join(', ')}`;
    if (text === this.ownedLogged) return;
    this.ownedLogged = text;
    this.logger.log(text);
  }
}

/**
 * The stream processor over its ports: the stream log (on Kinesis sharing the checkpoint store's
 * lease table, whose leases fence the checkpoints), the checkpoint store, the read model, the time-series sink, the alert channels and the
 * model registry, each from its own module. The alert channels (ALERT_CHANNELS) are projections
 * of the alerts stream with their own loop and position per channel, so a failing pager never
 * holds up processing.
 */
@Module({
  imports: [StreamLogModule.register({ positions: 'checkpoint-store' }), ReadModelModule, TimeSeriesModule, AlertChannelsModule, ModelRegistryModule],
  providers: [
    { provide: PROCESSOR_METRICS, useFactory: (registry: Registry, log: StreamLog) => new ProcessorMetrics(registry, log), inject: [METRICS_REGISTRY, STREAM_LOG] },
    {
      provide: PROCESSOR_READINESS,
      useFactory: (stream: StreamConfig, readModelConfig: ReadModelConfig, log: StreamLog, readModel: ReadModel, channels: AlertChannel[]) => processorReadiness(stream, readModelConfig, log, readModel, channels),
      inject: [streamConfig.KEY, readModelConfig.KEY, STREAM_LOG, READ_MODEL, ALERT_CHANNELS],
    },
    {
      provide: STREAM_PROCESSOR,
      useFactory: (
        config: ProcessorConfig,
        stream: StreamConfig,
        models: FileModelRegistry,
        log: StreamLog,
        readModel: ReadModel,
        checkpoints: PartitionCheckpointStore,
        timeSeries: TimeSeriesSink | null,
        metrics: ProcessorMetrics,
        db?: Database.Database | null,
      ) => buildStreamProcessor(config, stream, models, { log, readModel, checkpoints, timeSeries, db }, metrics),
      inject: [processorConfig.KEY, streamConfig.KEY, MODEL_REGISTRY, STREAM_LOG, READ_MODEL, CHECKPOINT_STORE, TIME_SERIES_SINK, PROCESSOR_METRICS, { token: EMBEDDED_DATABASE, optional: true }],
    },
    {
      provide: ALERT_DISPATCHER,
      useFactory: (log: StreamLog, channels: AlertChannel[], registry: Registry, stream: StreamConfig) => {
        const channelLogger = new Logger('alert-channels');
        // On Kinesis every processor instance runs a dispatcher: the channel's leases give each alert to one of them.
        const shareByGroup = stream.STREAM_BACKEND === 'kinesis';
        const dispatcher = new AlertDispatcher({ log, channels, shareByGroup, logger: { log: (m) => channelLogger.log(m), warn: (m) => channelLogger.warn(m) } });
        registerAlertChannelMetrics(registry, dispatcher);
        return dispatcher;
      },
      inject: [STREAM_LOG, ALERT_CHANNELS, METRICS_REGISTRY, streamConfig.KEY],
    },
    ProcessorRunner,
  ],
  exports: [PROCESSOR_READINESS],
})
export class ProcessorModule {}
