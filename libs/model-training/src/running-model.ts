import { LineVoltageModel, type LineModelParameters, type ProcessorSnapshot, type VoltageModelRuleState } from '@meterstream/processing';

/** The voltage model a processor is running right now: the version it installed last, plus what it has learned online since. */
export interface RunningModel {
  /** The published version it started from (0: learned online only). */
  version: number;
  lines: Record<string, LineModelParameters>;
}

const RULE = 'voltage-model';

/**
 * The running model in a processor checkpoint's topology snapshot (rules['voltage-model']), as
 * parameters a fresh model can install; null when the snapshot has no voltage-model state (no
 * checkpoint yet, or the model rule is not configured).
 */
export function runningModelFromSnapshot(snapshot: ProcessorSnapshot | null | undefined): RunningModel | null {
  const state = snapshot?.rules?.[RULE] as VoltageModelRuleState | undefined;
  if (state === undefined || !Array.isArray(state.lines)) return null;
  const lines: Record<string, LineModelParameters> = {};
  for (const line of state.lines) lines[line.lineId] = LineVoltageModel.restore(line.model).parameters();
  return { version: state.modelVersion, lines };
}

/**
 * The running model of a processor whose state is split over partitions (one topology per
 * `readings` partition, each holding its own lines): the lines of every snapshot together, with
 * the newest version any partition installed. Null when no snapshot has voltage-model state.
 */
export function runningModelFromSnapshots(snapshots: readonly (ProcessorSnapshot | null | undefined)[]): RunningModel | null {
  const running = snapshots.map(runningModelFromSnapshot).filter((model): model is RunningModel => model !== null);
  if (running.length === 0) return null;
  return { version: Math.max(...running.map((model) => model.version)), lines: Object.assign({}, ...running.map((model) => model.lines)) as RunningModel['lines'] };
}
