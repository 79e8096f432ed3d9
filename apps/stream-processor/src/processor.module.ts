import { Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { AlertDispatcher, createAlertChannels } from '@meterstream/alert-channels';
import { loadConfig, type Config } from '@meterstream/config';
import { startRateReporter } from '@meterstream/observability';
import { FileModelRegistry } from '@meterstream/model-registry';
import { createAlertRules, resolveProcessorOptions, type AlertRule, type ProcessorOptions } from '@meterstream/processing';
import { SqliteReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, openEmbeddedDatabase } from '@meterstream/stream';
import { CheckpointStore } from './checkpoint-store';
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
