import { Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { AlertDispatcher, createAlertChannels, type AlertChannel } from '@meterstream/alert-channels';
import { loadConfig, type Config } from '@meterstream/config';
import { startRateReporter } from '@meterstream/observability';
import { FileModelRegistry } from '@meterstream/model-registry';
import { createAlertRules, resolveProcessorOptions, type AlertRule, type ProcessorOptions } from '@meterstream/processing';
import { createReadModel, SqliteReadModel, type ReadModel } from '@meterstream/read-model';
import { createCheckpointStore, createStreamLog, EmbeddedStreamLog, openEmbeddedDatabase, type PartitionCheckpointStore, type StreamLog } from '@meterstream/stream';
import type { TimeSeriesSink } from '@meterstream/timeseries';
import { CheckpointStore } from './checkpoint-store';
// The file itself, not the folder's index: create-distributed-processor imports this module back
// (topologyOptions, alertRules), which is harmless as long as neither side uses the other at load time.
import { createDistributedProcessor, PROCESSOR_GROUP } from './distributed/create-distributed-processor';
import type { DistributedProcessor } from './distributed/distributed-processor';
import { ProcessorRuntime } from './processor-runtime';

export const CONFIG = Symbol('CONFIG');
export const DATABASE = Symbol('DATABASE');

const HOUR = 3_600_000;

/** The topology options from configuration (shared by the embedded and distributed runtimes). */
export function topologyOptions(config: Config): ProcessorOptions {
  return {
    windowSizeMs: config.WINDOW_SIZE_MS,
    hopMs: config.WINDOW_HOP_MS,
    perMeter: config.PER_METER_WINDOWS,
    outOfOrdernessMs: config.OUT_OF_ORDERNESS_MS,
    allowedLatenessMs: config.ALLOWED_LATENESS_MS,
    idleTimeoutMs: config.IDLE_TIMEOUT_MS,
    voltageLow: config.VOLTAGE_LOW,
    voltageHigh: config.VOLTAGE_HIGH,
    clearAfterWindows: config.ALERT_CLEAR_WINDOWS,
  };
}

/** The configured alert rules (ALERT_RULES), fresh for every topology. */
export function alertRules(config: Config): () => AlertRule[] {
  const resolved = resolveProcessorOptions(topologyOptions(config));
  return () => createAlertRules(resolved, config.ALERT_RULES);
}

export function createProcessorRuntime(config: Config, db: Database.Database): ProcessorRuntime {
  const log = new EmbeddedStreamLog(db, { partitions: config.STREAM_PARTITIONS });
  const readModel = new SqliteReadModel(db);
  readModel.migrate();
  const logger = new Logger('stream-processor');
  return new ProcessorRuntime(db, log, readModel, new CheckpointStore(db, 'stream-processor'), {
    topology: topologyOptions(config),
    rules: alertRules(config),
    models: new FileModelRegistry(config.modelDir),
    onModelInstalled: (version) => logger.log(`installed voltage model version ${version} from ${config.modelDir}`),
    maxRecordsPerPartition: 2000,
    idlePollMs: 100,
    readingRetentionMs: config.READING_RETENTION_HOURS * HOUR,
    logRetentionMs: config.LOG_RETENTION_HOURS * HOUR,
    onError: (err) => logger.error(`batch not committed, resuming from the checkpoint: ${err.message}`),
  });
}

/**
 * The alert channels (ALERT_CHANNELS) as projections of the alerts stream: their own loop and
 * position per channel, so a failing pager never holds up processing.
 */
export function createAlertDispatcher(config: Config, db: Database.Database): AlertDispatcher {
  const logger = new Logger('alert-channels');
  return new AlertDispatcher({
    log: new EmbeddedStreamLog(db, { partitions: config.STREAM_PARTITIONS }),
    channels: createAlertChannels(config),
    logger: { log: (m) => logger.log(m), warn: (m) => logger.warn(m) },
  });
}

@Injectable()
export class ProcessorRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('stream-processor');
  private stopReporter: (() => void) | undefined;

  constructor(
    @Inject(DATABASE) private readonly db: Database.Database,
    private readonly runtime: ProcessorRuntime,
    private readonly dispatcher: AlertDispatcher,
  ) {}

  onApplicationBootstrap(): void {
    this.runtime.start();
    this.dispatcher.start();
    this.logger.log('processing readings and dead-letters');
    this.stopReporter = startRateReporter(
      'processor',
      () => {
        const { readings, aggregates, alerts, late } = this.runtime.counters;
        const { openWindows } = this.runtime.stats();
        return { readings, aggregates, alerts, late, openWindows };
      },
      (line) => this.logger.log(line),
      10_000,
      ['openWindows'],
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopReporter?.();
    await this.runtime.stop();
    await this.dispatcher.stop({ timeoutMs: 5_000 });
    this.db.close();
    this.logger.log('stopped at a checkpoint');
  }
}

@Module({
  providers: [
    { provide: CONFIG, useFactory: () => loadConfig() },
    {
      provide: DATABASE,
      // Everything the processor writes is derived from the durable readings log and committed
      // together with its checkpoint, so it needs no fsync per commit: after an OS crash the last
      // commits are lost *together* and recomputed identically from the log. (WAL keeps the file
      // consistent either way; the bridge's appends stay synchronous=FULL.)
      useFactory: (config: Config) => openEmbeddedDatabase(config.databaseFile, { synchronous: 'normal' }),
      inject: [CONFIG],
    },
    { provide: ProcessorRuntime, useFactory: createProcessorRuntime, inject: [CONFIG, DATABASE] },
    { provide: AlertDispatcher, useFactory: createAlertDispatcher, inject: [CONFIG, DATABASE] },
    ProcessorRunner,
  ],
})
export class ProcessorModule {}

// --- Distributed stream backends (STREAM_BACKEND=kafka|kinesis) -------------------------------

export const DISTRIBUTED_RUNTIME = Symbol('DISTRIBUTED_RUNTIME');

/** How often the owned partitions are compared with the last ones logged. */
const OWNERSHIP_CHECK_MS = 500;

/**
 * The processor's consumer group on `readings` and the namespace of its checkpoints. Kafka group
 * ids are cluster-wide and the Kinesis checkpoints of every deployment on a host share one store,
 * so the deployment's topic/stream prefix is part of the name: two deployments (or test runs) on
 * one cluster never join each other's group or resume from each other's checkpoints.
 */
export function distributedProcessorGroup(config: Config): string {
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
 * The distributed processor with everything it talks to. The ports are built from configuration
 * (createStreamLog, createCheckpointStore, createReadModel, createTimeSeriesSink,
 * createAlertChannels) and owned here: close() releases them after stop.
 */
export interface DistributedRuntime {
  processor: DistributedProcessor;
  dispatcher: AlertDispatcher;
  group: string;
  /** Releases every port; call after processor.stop() and dispatcher.stop(). */
  close(): Promise<void>;
}

export async function createDistributedRuntime(config: Config): Promise<DistributedRuntime> {
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
  try {
    const checkpoints: PartitionCheckpointStore = open('checkpoint store', createCheckpointStore(config));
    // Kinesis keeps consumer-group positions (the alert channels') in the same shared store.
    const log: StreamLog = open('stream log', createStreamLog(config, { positionStore: checkpoints }));
    const readModel: ReadModel = open('read model', await createReadModel(config));
    // Loaded here, not at the top: the time-series library pulls in the Timestream SDK, which the embedded path never needs.
    const { createTimeSeriesSink } = await import('@meterstream/timeseries');
    const timeSeries: TimeSeriesSink = open('time-series sink', createTimeSeriesSink(config));
    const channels: AlertChannel[] = createAlertChannels(config);
    for (const channel of channels) open(`${channel.name} alert channel`, channel);
    const dispatcher = new AlertDispatcher({ log, channels, logger: { log: (m) => channelLogger.log(m), warn: (m) => channelLogger.warn(m) } });
    const group = distributedProcessorGroup(config);
    const processor = createDistributedProcessor(
      config,
      {
        log,
        readModel,
        checkpoints,
        timeSeries,
        models: new FileModelRegistry(config.modelDir),
        onModelInstalled: (version) => logger.log(`installed voltage model version ${version} from ${config.modelDir}`),
        onError: (err) => logger.error(err.message),
      },
      { group },
    );
    return { processor, dispatcher, group, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * Runs the distributed processor and the alert dispatcher over the same log. Logs the same
 * rate line as the embedded runner, and one line whenever this instance's share of the
 * partitions changes (a rebalance: an instance joined, left or died).
 */
@Injectable()
export class DistributedProcessorRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('stream-processor');
  private stopReporter: (() => void) | undefined;
  private ownershipTimer: NodeJS.Timeout | undefined;
  private ownedLogged: string | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(DISTRIBUTED_RUNTIME) private readonly runtime: DistributedRuntime,
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

/** The processor on Kafka or Kinesis (main.ts picks it when STREAM_BACKEND is not embedded). */
@Module({
  providers: [
    { provide: CONFIG, useFactory: () => loadConfig() },
    { provide: DISTRIBUTED_RUNTIME, useFactory: createDistributedRuntime, inject: [CONFIG] },
    DistributedProcessorRunner,
  ],
})
export class DistributedProcessorModule {}
