import type { Config } from '@meterstream/config';
import { alertRules, topologyOptions } from '../processor.module';
import { DistributedProcessor, type DistributedProcessorOptions, type DistributedProcessorPorts } from './distributed-processor';

const HOUR = 3_600_000;

/** The consumer group (and checkpoint namespace) of the stream processor. */
export const PROCESSOR_GROUP = 'stream-processor';

/** What the distributed processor needs besides configuration. */
export interface DistributedProcessorDeps extends DistributedProcessorPorts {
  /** The model registry (e.g. FileModelRegistry on config.modelDir); absent: no published models are installed. */
  models?: DistributedProcessorOptions['models'];
  onModelInstalled?: (version: number) => void;
  now?: () => number;
  onError?: (err: Error) => void;
}

/** Settings with no configuration key (yet); tests and tooling override them. */
export type DistributedProcessorTuning = Pick<
  DistributedProcessorOptions,
  'group' | 'maxRecordsPerPartition' | 'idlePollMs' | 'checkpointEveryBatches' | 'checkpointIntervalMs' | 'errorBackoffMs'
>;

export const DEFAULT_TUNING: DistributedProcessorTuning = {
  group: PROCESSOR_GROUP,
  maxRecordsPerPartition: 2000,
  idlePollMs: 100,
  // At most about a second of work is repeated after a crash; each checkpoint costs one sink
  // flush and one store write per changed partition.
  checkpointEveryBatches: 20,
  checkpointIntervalMs: 1000,
  errorBackoffMs: 1000,
};

/**
 * Builds the distributed processor from the service configuration, with the topology options and
 * alert rules (ALERT_RULES) the embedded runtime gets. Call start() to join the group and
 * process, stop() to checkpoint and leave; the caller closes the ports afterwards.
 */
export function createDistributedProcessor(config: Config, deps: DistributedProcessorDeps, tuning: Partial<DistributedProcessorTuning> = {}): DistributedProcessor {
  const { now, onError, models, onModelInstalled, ...ports } = deps;
  return new DistributedProcessor(ports, {
    ...DEFAULT_TUNING,
    ...tuning,
    topology: topologyOptions(config),
    rules: alertRules(config),
    models,
    onModelInstalled,
    readingRetentionMs: config.READING_RETENTION_HOURS * HOUR,
    now,
    onError,
  });
}
