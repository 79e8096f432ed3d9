import type Database from 'better-sqlite3';
import type { ProcessorConfig, StreamConfig } from '@meterstream/config';
import { createAlertRules, PROCESSOR_GROUP, resolveProcessorOptions, type AlertRule, type ProcessorOptions } from '@meterstream/processing';
import { SqliteReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, SqliteCheckpointStore } from '@meterstream/stream';
import { EmbeddedTransactionCommit, type EmbeddedCommitPorts } from './commit/embedded-transaction-commit';
import { FlushThenCheckpointCommit, type FlushThenCheckpointPorts } from './commit/flush-then-checkpoint';
import { StreamProcessor, type StreamProcessorOptions } from './stream-processor';

const HOUR = 3_600_000;

export { PROCESSOR_GROUP };

/** The embedded processor also reads the log's partitions and retention (it prunes the log in its transaction). */
export type EmbeddedProcessorConfig = ProcessorConfig & Pick<StreamConfig, 'STREAM_PARTITIONS' | 'LOG_RETENTION_HOURS'>;

/** What the processor needs besides configuration and its ports. */
export interface StreamProcessorDeps {
  /** The model registry (e.g. FileModelRegistry on config.modelDir); absent: no published models are installed. */
  models?: StreamProcessorOptions['models'];
  onModelInstalled?: (version: number) => void;
  now?: () => number;
  onError?: (err: Error) => void;
  onCommitted?: StreamProcessorOptions['onCommitted'];
}

/** Settings with no configuration key (yet); tests and tooling override them. */
export type StreamProcessorTuning = Pick<StreamProcessorOptions, 'group' | 'maxRecordsPerPartition' | 'idlePollMs' | 'checkpointEveryBatches' | 'checkpointIntervalMs' | 'errorBackoffMs'>;

export const DEFAULT_TUNING: StreamProcessorTuning = {
  group: PROCESSOR_GROUP,
  maxRecordsPerPartition: 2000,
  idlePollMs: 100,
  // Flush-then-checkpoint: at most about a second of work is repeated after a crash; each
  // checkpoint costs one sink flush and one store write per changed partition. (The embedded
  // transaction checkpoints with every poll whatever these say.)
  checkpointEveryBatches: 20,
  checkpointIntervalMs: 1000,
  errorBackoffMs: 1000,
};

/** The topology options from configuration. */
export function topologyOptions(config: ProcessorConfig): ProcessorOptions {
  return {
    windowSizeMs: config.WINDOW_SIZE_MS,
    hopMs: config.WINDOW_HOP_MS,
    perMeter: config.PER_METER_WINDOWS,
    outOfOrdernessMs: config.OUT_OF_ORDERNESS_MS,
    allowedLatenessMs: config.ALLOWED_LATENESS_MS,
    idleTimeoutMs: config.IDLE_TIMEOUT_MS,
    lineTiming: config.LINE_TIMING,
    clockAheadLimitMs: config.CLOCK_AHEAD_LIMIT_MS,
    voltageLow: config.VOLTAGE_LOW,
    voltageHigh: config.VOLTAGE_HIGH,
    clearAfterWindows: config.ALERT_CLEAR_WINDOWS,
  };
}

/** The configured alert rules (ALERT_RULES), fresh for every partition's topology. */
export function alertRules(config: ProcessorConfig): () => AlertRule[] {
  const resolved = resolveProcessorOptions(topologyOptions(config));
  return () => createAlertRules(resolved, config.ALERT_RULES);
}

function options(config: ProcessorConfig, deps: StreamProcessorDeps, tuning: Partial<StreamProcessorTuning>): StreamProcessorOptions {
  const { now, onError, models, onModelInstalled, onCommitted } = deps;
  return {
    ...DEFAULT_TUNING,
    ...tuning,
    topology: topologyOptions(config),
    rules: alertRules(config),
    models,
    onModelInstalled,
    readingRetentionMs: config.READING_RETENTION_HOURS * HOUR,
    now,
    onError,
    onCommitted,
  };
}

/**
 * The processor on the embedded database: it reads the log through the stream port, like on
 * any engine, and commits each poll's outputs, read model and checkpoints in one transaction.
 */
export function createEmbeddedStreamProcessor(config: EmbeddedProcessorConfig, db: Database.Database, deps: StreamProcessorDeps = {}, tuning: Partial<StreamProcessorTuning> = {}): StreamProcessor {
  const log = new EmbeddedStreamLog(db, { partitions: config.STREAM_PARTITIONS });
  const readModel = new SqliteReadModel(db);
  const checkpoints = new SqliteCheckpointStore(db);
  return embeddedStreamProcessorOn(config, { db, log, readModel, checkpoints }, deps, tuning);
}

/** As createEmbeddedStreamProcessor, on ports already built on the one handle `db` (the service's providers). */
export function embeddedStreamProcessorOn(
  config: EmbeddedProcessorConfig,
  ports: EmbeddedCommitPorts,
  deps: StreamProcessorDeps = {},
  tuning: Partial<StreamProcessorTuning> = {},
): StreamProcessor {
  refuseSingleCheckpointLayout(ports.db);
  ports.readModel.migrate();
  const settings = options(config, deps, tuning);
  const commit = new EmbeddedTransactionCommit(ports, settings.group, config.LOG_RETENTION_HOURS * HOUR);
  return new StreamProcessor({ log: ports.log, checkpoints: ports.checkpoints, commit }, settings);
}

/** The table where meterstream before the one runtime kept one checkpoint for every partition. */
export const SINGLE_CHECKPOINT_TABLE = 'processor_checkpoints';

/**
 * A database processed by an older meterstream holds one checkpoint for all partitions, which
 * this runtime cannot resume from: starting over would append every output again. Refuse, and
 * say how to rebuild (replay drops the old table).
 */
function refuseSingleCheckpointLayout(db: Database.Database): void {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(SINGLE_CHECKPOINT_TABLE) !== undefined;
  if (exists && db.prepare(`SELECT count(*) FROM ${SINGLE_CHECKPOINT_TABLE}`).pluck().get() !== 0) {
    throw new Error(
      `${db.name} was processed by an older meterstream (one checkpoint for all partitions, table ${SINGLE_CHECKPOINT_TABLE}): ` +
        'run `npm run replay` to rebuild the derived state with this version',
    );
  }
}

/**
 * The processor over any ports (Kafka, Kinesis, Elasticsearch, Timestream, or the embedded log
 * through its async port): outputs and sinks written per poll, flushed before each checkpoint.
 * Call start() to join the group and process, stop() to checkpoint and leave; the caller closes
 * the ports afterwards.
 */
export function createStreamProcessor(config: ProcessorConfig, ports: FlushThenCheckpointPorts, deps: StreamProcessorDeps = {}, tuning: Partial<StreamProcessorTuning> = {}): StreamProcessor {
  const settings = options(config, deps, tuning);
  const report = (err: unknown, context: string) => {
    const error = err instanceof Error ? err : new Error(String(err));
    deps.onError?.(new Error(`${context}: ${error.message}`, { cause: error }));
  };
  const commit = new FlushThenCheckpointCommit(ports, settings.group, report);
  return new StreamProcessor({ log: ports.log, checkpoints: ports.checkpoints, commit }, settings);
}
