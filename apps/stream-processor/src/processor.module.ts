import { Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AlertDispatcher, createAlertChannels } from '@meterstream/alert-channels';
import { loadConfig, type Config } from '@meterstream/config';
import { startRateReporter } from '@meterstream/observability';
import { FileModelRegistry } from '@meterstream/model-registry';
import { createReadModel } from '@meterstream/read-model';
import { createCheckpointStore, createStreamLog, EmbeddedStreamLog, openEmbeddedDatabase, type StreamLog } from '@meterstream/stream';
import { createEmbeddedStreamProcessor, createStreamProcessor, PROCESSOR_GROUP, type StreamProcessorDeps } from './runtime/create-stream-processor';
import type { StreamProcessor } from './runtime/stream-processor';

export const CONFIG = Symbol('CONFIG');
export const PROCESSOR_RUNTIME = Symbol('PROCESSOR_RUNTIME');

/** How often the owned partitions are compared with the last ones logged. */
const OWNERSHIP_CHECK_MS = 500;

/**
 * The processor's consumer group on `readings` and the namespace of its checkpoints. Kafka group
 * ids are cluster-wide and the Kinesis checkpoints of every deployment on a host share one store,
 * so the deployment's topic/stream prefix is part of the name: two deployments (or test runs) on
 * one cluster never join each other's group or resume from each other's checkpoints.
 */
export function processorGroup(config: Config): string {
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
export function describeBackends(config: Config): string {
  const streams =
    config.STREAM_BACKEND === 'kafka'
      ? `Kafka ${config.KAFKA_BROKERS} (topics ${config.KAFKA_TOPIC_PREFIX}*, checkpoints in ${config.KAFKA_TOPIC_PREFIX}_checkpoints)`
      : config.STREAM_BACKEND === 'kinesis'
        ? `Kinesis ${config.KINESIS_ENDPOINT ?? config.AWS_REGION} (streams ${config.KINESIS_STREAM_PREFIX}*, shard share ${config.PROCESSOR_INSTANCE} of ${config.PROCESSOR_INSTANCES}, checkpoints in ${config.databaseFile})`
        : `the embedded log ${config.databaseFile}`;
  const readModel = config.READ_MODEL_BACKEND === 'elasticsearch' ? `Elasticsearch ${config.ELASTICSEARCH_URL} (indices ${config.ELASTICSEARCH_INDEX_PREFIX}*)` : `SQLite ${config.databaseFile}`;
  return `streams on ${streams}; read model ${readModel}; time series ${config.TIMESERIES_BACKEND}`;
}

/**
 * The processor with everything it talks to, built from configuration: on the embedded default
 * the SQLite log, read model and checkpoints of one database (one transaction per poll); on
 * Kafka/Kinesis the ports from createStreamLog, createCheckpointStore, createReadModel and
 * createTimeSeriesSink (flush, then checkpoint). The alert channels (ALERT_CHANNELS) are
 * projections of the alerts stream with their own loop and position per channel, so a failing
 * pager never holds up processing.
 */
export interface ProcessorRuntime {
  processor: StreamProcessor;
  dispatcher: AlertDispatcher;
  group: string;
  /** Releases every port; call after processor.stop() and dispatcher.stop(). */
  close(): Promise<void>;
}

export async function openProcessorRuntime(config: Config): Promise<ProcessorRuntime> {
  const logger = new Logger('stream-processor');
  const channelLogger = new Logger('alert-channels');
  // Opened in order, closed in reverse: a port that fails to open closes the ones before it.
  const opened: { name: string; close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const resource of opened.reverse()) {
      await resource.close().catch((err: unknown) => logger.warn(`closing the ${resource.name}: ${(err as Error).message}`));
    }
    opened.length = 0;
  };
  const open = <T extends { close(): Promise<void> }>(name: string, resource: T): T => {
    opened.push({ name, close: () => resource.close() });
    return resource;
  };
  const deps: StreamProcessorDeps = {
    models: new FileModelRegistry(config.modelDir),
    onModelInstalled: (version) => logger.log(`installed voltage model version ${version} from ${config.modelDir}`),
    onError: (err) => logger.error(err.message),
  };
  try {
    const group = processorGroup(config);
    let processor: StreamProcessor;
    let log: StreamLog;
    if (config.STREAM_BACKEND === 'embedded') {
      // Everything the processor writes is derived from the durable readings log and committed
      // together with its checkpoint, so it needs no fsync per commit: after an OS crash the last
      // commits are lost *together* and recomputed identically from the log. (WAL keeps the file
      // consistent either way; ingest's appends stay synchronous=FULL.)
      const db = openEmbeddedDatabase(config.databaseFile, { synchronous: 'normal' });
      open('database', {
        close: async () => {
          db.close();
        },
      });
      processor = createEmbeddedStreamProcessor(config, db, deps, { group });
      log = new EmbeddedStreamLog(db, { partitions: config.STREAM_PARTITIONS });
    } else {
      const checkpoints = open('checkpoint store', createCheckpointStore(config));
      // Kinesis keeps consumer-group positions (the alert channels') in the same shared store.
      log = open('stream log', createStreamLog(config, { positionStore: checkpoints }));
      const readModel = open('read model', await createReadModel(config));
      // Loaded here, not at the top: the time-series library pulls in the Timestream SDK, which the embedded path never needs.
      const { createTimeSeriesSink } = await import('@meterstream/timeseries');
      const timeSeries = open('time-series sink', createTimeSeriesSink(config));
      processor = createStreamProcessor(config, { log, readModel, checkpoints, timeSeries }, deps, { group });
    }
    const channels = createAlertChannels(config);
    for (const channel of channels) open(`${channel.name} alert channel`, channel);
    const dispatcher = new AlertDispatcher({ log, channels, logger: { log: (m) => channelLogger.log(m), warn: (m) => channelLogger.warn(m) } });
    return { processor, dispatcher, group, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Runs the processor and the alert dispatcher over the same log. Logs a rate line every ten
 * seconds, and one line whenever this instance's share of the partitions changes (a rebalance:
 * an instance joined, left or died).
 */
@Injectable()
export class ProcessorRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('stream-processor');
  private stopReporter: (() => void) | undefined;
  private ownershipTimer: NodeJS.Timeout | undefined;
  private ownedLogged: string | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(PROCESSOR_RUNTIME) private readonly runtime: ProcessorRuntime,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { processor, dispatcher, group } = this.runtime;
    this.logger.log(`${describeBackends(this.config)}; consumer group ${group}`);
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

  async onApplicationShutdown(): Promise<void> {
    const { processor, dispatcher } = this.runtime;
    this.stopReporter?.();
    clearInterval(this.ownershipTimer);
    // Checkpoints every owned partition, then leaves the group: the others resume from there.
    try {
      await processor.stop();
    } finally {
      await dispatcher.stop({ timeoutMs: 5_000 });
      await this.runtime.close();
    }
    const { readings, aggregates, alerts, checkpoints } = processor.counters;
    this.logger.log(`stopped at a checkpoint after ${readings} readings (${aggregates} aggregates, ${alerts} alerts, ${checkpoints} checkpoints)`);
  }

  private logOwnership(): void {
    const owned = this.runtime.processor.ownedPartitions();
    const text = owned.length === 0 ? 'owns no readings partition' : `owns readings partitions ${owned.join(', ')}`;
    if (text === this.ownedLogged) return;
    this.ownedLogged = text;
    this.logger.log(text);
  }
}

@Module({
  providers: [
    { provide: CONFIG, useFactory: () => loadConfig() },
    { provide: PROCESSOR_RUNTIME, useFactory: openProcessorRuntime, inject: [CONFIG] },
    ProcessorRunner,
  ],
})
export class ProcessorModule {}
