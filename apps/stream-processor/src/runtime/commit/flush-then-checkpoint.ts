import { STREAMS } from '@meterstream/contracts';
import type { ReadModel } from '@meterstream/read-model';
import type { PartitionCheckpointStore, StreamLog } from '@meterstream/stream';
import { encodeCheckpoint } from '@meterstream/processing';
import type { PartitionTask } from '../partition-task';
import type { TimeSeriesWriter } from '../time-series-writer';
import type { CommitStrategy, PollEffects } from './commit-strategy';
import { outputRecords } from './output-records';

/** The external systems the processor writes to, all through their ports. The caller owns and closes them. */
export interface FlushThenCheckpointPorts {
  log: StreamLog;
  readModel: ReadModel;
  /** Shared by every instance of the group: a partition's next owner resumes from what is saved here. */
  checkpoints: PartitionCheckpointStore;
  /** Optional long-term history of raw readings. */
  timeSeries?: TimeSeriesWriter;
}

/**
 * The commit strategy for engines where outputs, sinks and checkpoints cannot share a
 * transaction (Kafka, Kinesis, Elasticsearch, Timestream). Per poll: append the outputs (resolved
 * = durable), then apply the read model and write the time series, which may buffer. At a
 * checkpoint: flush the sinks, prune the read model, save each changed partition's checkpoint,
 * then commit the positions to the consumer group as a courtesy to lag tooling.
 *
 * So outputs are at least once (what followed a partition's last checkpoint is emitted again
 * after a crash, as byte-identical copies with the same ids), and effects exactly once (the sinks
 * are idempotent by id and flushed before the checkpoint that covers them).
 */
export class FlushThenCheckpointCommit implements CommitStrategy {
  /** The read-model retention cutoff last pruned to. */
  private prunedBefore = -Infinity;

  constructor(
    private readonly ports: FlushThenCheckpointPorts,
    private readonly group: string,
    private readonly onError: (err: unknown, context: string) => void,
  ) {}

  async commit(effects: PollEffects): Promise<void> {
    const { log, readModel, timeSeries } = this.ports;
    await Promise.all(outputRecords(effects.output).map(([stream, records]) => log.append(stream, records)));
    await readModel.apply({
      readings: effects.accepted.filter((r) => r.eventTime >= effects.retentionCutoff),
      aggregates: effects.output.aggregates,
      alerts: effects.output.alerts,
      alertCommands: effects.alertCommands,
      cvrHours: effects.output.cvrHours,
      deadLetters: effects.deadLetters,
      lineCounters: effects.lineCounters,
    });
    if (timeSeries !== undefined && effects.accepted.length > 0) await timeSeries.write(effects.accepted);
  }

  async checkpoint(tasks: readonly PartitionTask[], retentionCutoff: number): Promise<number> {
    const changed = tasks.filter((task) => task.dirty);
    if (changed.length === 0) return 0;
    const { readModel, timeSeries, checkpoints } = this.ports;
    // Durable sinks first: a checkpoint must never cover an effect that could still be lost.
    await readModel.flush();
    await timeSeries?.flush();
    if (retentionCutoff > this.prunedBefore) {
      await readModel.pruneReadings(retentionCutoff);
      this.prunedBefore = retentionCutoff;
    }
    await Promise.all(
      changed.map(async (task) => {
        const checkpoint = task.checkpoint();
        await checkpoints.save(this.group, task.partition, encodeCheckpoint(checkpoint));
        task.markSaved(checkpoint);
      }),
    );
    await this.commitPositions(changed);
    return changed.length;
  }

  /** Positions for lag tooling only (the checkpoints are what resuming uses): a failure is reported, not fatal. */
  private async commitPositions(tasks: readonly PartitionTask[]): Promise<void> {
    try {
      const readings = new Map<string, string>();
      const deadLetters = new Map<string, string>();
      for (const task of tasks) {
        if (task.readingsPosition !== null) readings.set(task.partition, task.readingsPosition);
        for (const [partition, position] of Object.entries(task.deadLetterPositionsByPartition)) deadLetters.set(partition, position);
      }
      if (readings.size > 0) await this.ports.log.commit(this.group, STREAMS.readings, readings);
      if (deadLetters.size > 0) await this.ports.log.commit(this.group, STREAMS.deadLetters, deadLetters);
    } catch (err) {
      this.onError(err, 'committing positions to the consumer group failed (the checkpoint is saved)');
    }
  }
}
