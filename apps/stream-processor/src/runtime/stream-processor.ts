import { STREAMS, type ReadingEnvelope } from '@meterstream/contracts';
import type { AlertRule, ProcessorOptions, ProcessorOutput, ProcessorStats, VoltageModelVersion } from '@meterstream/processing';
import type { GroupMembership, PartitionCheckpointStore, StreamLog } from '@meterstream/stream';
import type { CommitStrategy, PollEffects } from './commit/commit-strategy';
import { deadLetterPartitionsOf, PartitionTask, type PartitionBatch, type PartitionInput } from './partition-task';
import { SerialLock } from './serial-lock';

/** What the processor reads from and commits through. The caller owns and closes the ports. */
export interface StreamProcessorPorts {
  /** The input streams (`readings`, `dead-letters`, `alert-commands`) and the consumer group that spreads their partitions. */
  log: StreamLog;
  /** Where each partition's checkpoint is loaded from when it is assigned (the commit strategy saves them). */
  checkpoints: PartitionCheckpointStore;
  /** How a poll's effects and the checkpoints become durable: one transaction (embedded) or flush, then checkpoint. */
  commit: CommitStrategy;
}

export interface StreamProcessorOptions {
  topology: ProcessorOptions;
  /** A fresh set of alert rules for each partition's topology; default: the topology's own. */
  rules?: () => AlertRule[];
  /** Where published voltage models come from; a newer version is installed between polls (checked at most once a second). */
  models?: { latest(): VoltageModelVersion | null };
  /** Told when a published model version was installed (once per installation, not per partition). */
  onModelInstalled?: (version: number) => void;
  /** Consumer group on `readings`, and the namespace of the checkpoints in the store. */
  group: string;
  /** Most records read per partition (and per dead-letter partition) per poll. */
  maxRecordsPerPartition: number;
  /** Pause between polls when every owned partition is caught up. */
  idlePollMs: number;
  /** Raw readings stay in the read model this long behind the newest event time seen. */
  readingRetentionMs: number;
  /** Checkpoint after this many polls that did work (an atomic commit strategy checkpoints every poll anyway)... */
  checkpointEveryBatches: number;
  /** ...or once this much processing time passed since the last checkpoint, whichever comes first. */
  checkpointIntervalMs: number;
  /** Pause after a failed poll before reading again from the checkpoint. Default 1000. */
  errorBackoffMs?: number;
  /** Processing time source; injectable so tests are deterministic (only the idle timeout and the checkpoint interval use it). */
  now?: () => number;
  /** Told about failures the loop survives: a poll rolled back, a checkpoint that could not be saved. */
  onError?: (err: Error) => void;
  /**
   * Told after each poll's effects were committed (durable on the embedded log, appended on Kafka
   * and Kinesis), with what it emitted and the processing time of the poll: for metrics and for
   * logging each alert once, when it is emitted.
   */
  onCommitted?: (output: ProcessorOutput, now: number) => void;
}

/** One owned partition as metrics see it. */
export interface PartitionFigures {
  partition: string;
  /** Last readings position processed (null: none yet): the consumer lag is the log's end minus this. */
  position: string | null;
  /** The lowest watermark among the partition's lines (null: no line has one yet). */
  slowestWatermark: number | null;
  openWindows: number;
}

export interface StreamProcessorCounters {
  /** Input records processed; records processed again after a rollback count again. */
  readings: number;
  deadLetters: number;
  /** Operators' alert commands applied to the read model. */
  alertCommands: number;
  /** Output records appended; repeats after a rollback count again. */
  aggregates: number;
  alerts: number;
  late: number;
  /** Polls that did work. */
  batches: number;
  checkpoints: number;
  /** Polls whose effects were discarded (a commit or checkpoint failed) and that resumed from the checkpoints. */
  rollbacks: number;
}

/**
 * The stream processor's runtime, the same on every backend: the pure StreamTopology, one
 * instance per owned `readings` partition (a PartitionTask, Kafka Streams' StreamTask idea),
 * with partitions spread over the processor instances by the StreamLog's consumer group (the
 * embedded log has one member that owns them all). What differs per backend is only how a poll
 * becomes durable: the CommitStrategy.
 *
 * One poll, for every owned partition at once (under a lock, so a rebalance waits for it): read
 * a batch of readings (and of the dead-letter partitions it carries) after its positions →
 * topology.process each reading → takeOutput → commit.commit(effects). Every
 * checkpointEveryBatches polls or checkpointIntervalMs, commit.checkpoint() saves each changed
 * partition's checkpoint (positions + stream time + topology snapshot) after making everything
 * it covers durable. If anything fails, every owned partition rolls back to its last checkpoint
 * and the next poll reads again from there.
 *
 * Delivery semantics:
 * - State: every readings record affects a partition's topology state exactly once in the
 *   state's lineage: positions and state are saved together, and whoever resumes (a restart, a
 *   rollback after a failed write, the next owner after a rebalance or a crash) restores both
 *   and reads on from the saved position.
 * - Outputs and effects: see the strategies. Embedded (EmbeddedTransactionCommit): exactly once,
 *   outputs, read model and checkpoints share a transaction. Distributed
 *   (FlushThenCheckpointCommit): outputs at least once — what was emitted after a partition's
 *   last checkpoint is emitted again when processing resumes from it; because the topology is
 *   deterministic and envelope ids are deterministic (aggregate: line + window; alert: alertId +
 *   state), the repeats are byte-identical copies with the same ids, and a consumer skips ids it
 *   has seen. Read model and time series: exactly once (idempotent by id, flushed before the
 *   checkpoint). Kafka's transactions are not used; the port cannot express them and Kinesis
 *   has none.
 * - The one exception is processing time: a window fired by the idle timeout of a quiet line
 *   (its watermark following the wall clock, which happens only once its partition is caught up;
 *   before that the ingest times in the data drive it, as in a replay) may fire at another point
 *   when a replay runs at another time. Its repeat then carries the same id and possibly other
 *   figures; id-idempotent sinks keep the first. (Installing a published voltage model is the other processing-time event; it is
 *   made deterministic by checkpointing right after it, see installNewerModel.)
 * - A zombie (a member that lost its partitions but has not noticed, e.g. in a long GC pause)
 *   can still append for them; its outputs are the same deterministic copies. On Kinesis its
 *   checkpoint saves are refused (the DynamoDB store writes them conditional on the shard's lease,
 *   LeaseLostError). On Kafka it can still save, but each checkpoint it saves is consistent on its
 *   own, so the worst case is that the next owner resumes from an older position and repeats
 *   more; never that it skips any.
 *
 * Partitions: dead letters need no topology, only the read model; each dead-letters partition is
 * carried by one readings partition (deadLetterPartitionsOf: the same index when the counts
 * agree) and its position lives in that partition's checkpoint. Operators' alert commands
 * (`alert-commands`, keyed by line like the readings) travel the same way, with one more rule:
 * a partition reads its commands only in a poll whose readings reached the end of the log, and
 * they are applied after that poll's alert events. Live that changes nothing (the API accepts a
 * command only about an alert the read model shows, so its readings were processed). A replay
 * holds the commands (holdAlertCommands) until every reading is reprocessed and the idle lines'
 * last windows have fired, so every alert is rebuilt before the commands about it apply again. One topology per partition
 * equals one topology over all of them because a line's readings all land in one partition; so
 * the partition count of `readings` must not change under a running group (adding Kafka
 * partitions, resharding Kinesis): a line that moves would have its open windows split between
 * two topologies. Change it by replaying into a new group instead.
 *
 * Read-model retention runs on stream time: readings older than the newest event time of the
 * owned partitions minus readingRetentionMs are not applied, and such readings are pruned. Pruning
 * is global, so with several instances the effective cutoff is the highest of theirs.
 */
export class StreamProcessor {
  readonly counters: StreamProcessorCounters = { readings: 0, deadLetters: 0, alertCommands: 0, aggregates: 0, alerts: 0, late: 0, batches: 0, checkpoints: 0, rollbacks: 0 };
  /** Input records processed per readings partition (dead letters counted with the partition that carries them), as `counters`. */
  readonly partitionCounters = new Map<string, { readings: number; deadLetters: number }>();
  /** Published model versions installed. */
  modelInstallations = 0;
  private readonly tasks = new Map<string, PartitionTask>();
  private readonly lock = new SerialLock();
  private readonly now: () => number;
  private membership: GroupMembership | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private batchesSinceCheckpoint = 0;
  private lastCheckpointAt: number;
  /** Processing time the model registry was last asked. */
  private lastModelCheck = -Infinity;
  private alertCommandsHeld = false;

  constructor(
    private readonly ports: StreamProcessorPorts,
    private readonly options: StreamProcessorOptions,
  ) {
    if (!(options.checkpointEveryBatches >= 1)) throw new RangeError('checkpointEveryBatches must be at least 1');
    this.now = options.now ?? Date.now;
    this.lastCheckpointAt = this.now();
  }

  /**
   * Joins the consumer group on `readings`. Each partition assigned is restored from its
   * checkpoint before it is read (the embedded log assigns every partition during this call).
   */
  async join(): Promise<void> {
    if (this.membership !== undefined) return;
    this.membership = await this.ports.log.joinGroup(this.options.group, STREAMS.readings, {
      assigned: (partitions) => this.lock.run(() => this.assign(partitions)),
      revoked: (partitions) => this.lock.run(() => this.revoke(partitions)),
    });
  }

  /** Joins the group and polls in the background until stop(). */
  async start(): Promise<void> {
    await this.join();
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Finishes the poll in flight, checkpoints every owned partition, then leaves the group (its
   * partitions go to the other members, which resume from those checkpoints).
   */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    const membership = this.membership;
    if (membership === undefined) return;
    this.membership = undefined;
    await this.lock.run(async () => {
      try {
        await this.checkpoint(this.ownedTasks());
      } catch (err) {
        // The next owner resumes from the previous checkpoint and repeats what followed it.
        this.report(err, 'final checkpoint failed');
      }
    });
    await membership.leave();
    await this.lock.run(async () => this.tasks.clear());
  }

  /**
   * While held, polls read no alert commands (their positions stay where they are); released,
   * the next caught-up poll applies what accumulated. Replay holds them until the alerts are rebuilt.
   */
  holdAlertCommands(hold: boolean): void {
    this.alertCommandsHeld = hold;
  }

  /** The readings partitions this instance owns, in stream order. */
  ownedPartitions(): string[] {
    return this.ownedTasks().map((task) => task.partition);
  }

  /** The voltage model version every owned partition runs with at least (0: none installed, or nothing owned). */
  get modelVersion(): number {
    const versions = [...this.tasks.values()].map((task) => task.modelVersion);
    return versions.length === 0 ? 0 : Math.min(...versions);
  }

  /** Per owned partition: its position, its slowest line's watermark and its open windows (walks every open window: for a scrape, not per poll). */
  partitionFigures(): PartitionFigures[] {
    return this.ownedTasks().map((task) => {
      const stats = task.stats();
      let slowest = Infinity;
      for (const watermark of Object.values(stats.watermarks)) if (Number.isFinite(watermark) && watermark < slowest) slowest = watermark;
      return { partition: task.partition, position: task.readingsPosition, slowestWatermark: Number.isFinite(slowest) ? slowest : null, openWindows: stats.openWindows };
    });
  }

  /** The owned partitions' topology figures, merged (partitions and lines are disjoint): per-line watermarks and clocks, per-partition ingest clocks. */
  stats(): Required<ProcessorStats> {
    const total: Required<ProcessorStats> = { openWindows: 0, trackedIds: 0, lines: 0, meters: 0, lateCounts: {}, duplicateCounts: {}, watermarks: {}, lineClocks: {}, ingestClocks: {} };
    for (const task of this.tasks.values()) {
      const stats = task.stats();
      total.openWindows += stats.openWindows;
      total.trackedIds += stats.trackedIds;
      total.lines += stats.lines;
      total.meters += stats.meters;
      Object.assign(total.lateCounts, stats.lateCounts);
      Object.assign(total.duplicateCounts, stats.duplicateCounts);
      Object.assign(total.watermarks, stats.watermarks);
      Object.assign(total.lineClocks, stats.lineClocks);
      Object.assign(total.ingestClocks, stats.ingestClocks);
    }
    return total;
  }

  /**
   * One poll over every owned partition (what the background loop repeats; callable directly
   * after join() to drive the processor step by step). Returns how many input records it
   * consumed; rejects when a read, write or checkpoint failed, after rolling every owned partition
   * back to its last checkpoint.
   */
  poll(): Promise<number> {
    return this.lock.run(() => this.pollOwned());
  }

  private async run(): Promise<void> {
    while (this.running) {
      let consumed: number;
      try {
        consumed = await this.poll();
      } catch (err) {
        this.report(err, 'poll rolled back to the last checkpoint');
        await this.sleep(this.options.errorBackoffMs ?? 1000);
        continue;
      }
      if (consumed === 0) await this.sleep(this.options.idlePollMs);
      // Yield so shutdown signals, timers and rebalance callbacks are served between polls.
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async pollOwned(): Promise<number> {
    const tasks = this.ownedTasks();
    if (tasks.length === 0) return 0;
    const now = this.now();
    try {
      await this.installNewerModel(tasks, now);
      const inputs = await Promise.all(tasks.map((task) => this.read(task)));
      const batches = tasks.map((task, i) => task.process(inputs[i], now));
      const consumed = batches.reduce((n, b) => n + b.consumed, 0);
      const output = concatOutputs(batches);
      const didWork = consumed > 0 || output.aggregates.length > 0 || output.alerts.length > 0 || output.late.length > 0 || (output.cvrHours?.length ?? 0) > 0;
      if (didWork) {
        await this.ports.commit.commit(this.effects(batches, output, now), tasks);
        this.count(tasks, batches, output);
        this.options.onCommitted?.(output, now);
        this.batchesSinceCheckpoint++;
      }
      if (this.batchesSinceCheckpoint >= this.options.checkpointEveryBatches || now - this.lastCheckpointAt >= this.options.checkpointIntervalMs) {
        await this.checkpoint(tasks);
        this.batchesSinceCheckpoint = 0;
        this.lastCheckpointAt = now;
      }
      this.ports.commit.maintain?.(now);
      return consumed;
    } catch (err) {
      // Whatever this poll (or an unsaved earlier one) did in memory is discarded: the next poll
      // reads again from the checkpointed positions and re-emits the same outputs.
      for (const task of tasks) task.rollback();
      this.batchesSinceCheckpoint = 0;
      // The rollback may have undone a model installation: check again before the next poll.
      this.lastModelCheck = -Infinity;
      this.counters.rollbacks++;
      throw err;
    }
  }

  /**
   * Installs a newer published model into every owned partition and checkpoints them at once,
   * before any record is processed with it. So where in the input a model took effect is part
   * of the checkpoint lineage: a replay after a crash uses the same model from the same
   * position, and its outputs repeat the first attempt's exactly.
   */
  private async installNewerModel(tasks: readonly PartitionTask[], now: number): Promise<void> {
    const models = this.options.models;
    if (models === undefined || now - this.lastModelCheck < 1000) return;
    this.lastModelCheck = now;
    const latest = models.latest();
    if (latest === null) return;
    const installed = tasks.filter((task) => task.offerModel(latest));
    if (installed.length === 0) return;
    await this.checkpoint(installed);
    // A rule set without a model-based rule takes no model: nothing to announce then.
    if (installed.some((task) => task.modelVersion === latest.version)) {
      this.modelInstallations++;
      this.options.onModelInstalled?.(latest.version);
    }
  }

  private async read(task: PartitionTask): Promise<PartitionInput> {
    const { log } = this.ports;
    const max = this.options.maxRecordsPerPartition;
    const [readings, ...deadLetters] = await Promise.all([
      log.read(STREAMS.readings, task.partition, task.readingsPosition, max),
      ...task.deadLetterPartitions.map((p) => log.read(STREAMS.deadLetters, p, task.deadLetterPosition(p), max)),
    ]);
    // Commands only once the readings are caught up (see the class comment): read after them.
    const caughtUp = readings.length < max && !this.alertCommandsHeld;
    const alertCommands = caughtUp
      ? await Promise.all(task.alertCommandPartitions.map((p) => log.read(STREAMS.alertCommands, p, task.alertCommandPosition(p), max)))
      : [];
    return {
      readings,
      deadLetters: new Map(task.deadLetterPartitions.map((p, i) => [p, deadLetters[i]])),
      alertCommands: new Map(caughtUp ? task.alertCommandPartitions.map((p, i) => [p, alertCommands[i]]) : []),
    };
  }

  /**
   * What a poll hands to the commit strategy. Late readings live in the late-readings stream and
   * the line's counter, nowhere else: matched by identity (the topology hands back the very
   * objects it was given), not by id, because a late redelivery must not take its accepted first
   * delivery in the same batch out with it. So do readings rejected for a fast clock: they
   * become dead letters (the commit strategies append them).
   */
  private effects(batches: readonly PartitionBatch[], output: ProcessorOutput, now: number): PollEffects {
    const rejected = output.rejected ?? [];
    const late = output.late.length + rejected.length > 0 ? new Set<ReadingEnvelope>([...output.late, ...rejected.map((r) => r.reading)]) : undefined;
    const accepted: ReadingEnvelope[] = [];
    for (const batch of batches) for (const reading of batch.readings) if (!late?.has(reading)) accepted.push(reading);
    return {
      output,
      accepted,
      deadLetters: batches.flatMap((b) => b.deadLetters),
      alertCommands: batches.flatMap((b) => b.alertCommands),
      lineCounters: batches.flatMap((b) => b.lineCounters),
      retentionCutoff: this.retentionCutoff(),
      now,
    };
  }

  /** Saves the checkpoints of the changed partitions among `tasks` through the commit strategy. Call under the lock, between polls. */
  private async checkpoint(tasks: readonly PartitionTask[]): Promise<void> {
    const saved = await this.ports.commit.checkpoint(tasks, this.retentionCutoff(), this.now());
    if (saved > 0) this.counters.checkpoints++;
  }

  /** Takes over partitions: restores each from its checkpoint. Runs under the lock. */
  private async assign(partitions: readonly string[]): Promise<void> {
    try {
      const fresh = partitions.filter((p) => !this.tasks.has(p));
      if (fresh.length === 0) return;
      const { log, checkpoints } = this.ports;
      const [readingsPartitions, deadLetterPartitions, alertCommandPartitions] = await Promise.all([
        log.partitions(STREAMS.readings),
        log.partitions(STREAMS.deadLetters),
        log.partitions(STREAMS.alertCommands),
      ]);
      const stored = await Promise.all(fresh.map((p) => checkpoints.load(this.options.group, p)));
      // All or nothing: a bad checkpoint leaves no half-assigned set behind.
      const tasks = fresh.map(
        (partition, i) =>
          new PartitionTask(
            partition,
            readingsPartitions.indexOf(partition),
            deadLetterPartitionsOf(partition, readingsPartitions, deadLetterPartitions),
            stored[i],
            { topology: this.options.topology, rules: this.options.rules, now: this.now },
            deadLetterPartitionsOf(partition, readingsPartitions, alertCommandPartitions),
          ),
      );
      for (const task of tasks) this.tasks.set(task.partition, task);
      // A partition may come with an older model than this instance runs: check before its first poll.
      this.lastModelCheck = -Infinity;
    } catch (err) {
      this.report(err, `could not take over partitions ${partitions.join(', ')}`);
      throw err;
    }
  }

  /** Hands partitions back: checkpoints them if it still can, then drops their state. Runs under the lock. */
  private async revoke(partitions: readonly string[]): Promise<void> {
    const tasks = partitions.map((p) => this.tasks.get(p)).filter((task): task is PartitionTask => task !== undefined);
    try {
      await this.checkpoint(tasks);
    } catch (err) {
      // The next owner resumes from their previous checkpoint and repeats what followed it.
      this.report(err, `could not checkpoint revoked partitions ${partitions.join(', ')}`);
    }
    for (const task of tasks) this.tasks.delete(task.partition);
  }

  private ownedTasks(): PartitionTask[] {
    return [...this.tasks.values()].sort((a, b) => a.order - b.order || (a.partition < b.partition ? -1 : 1));
  }

  /** Readings older than this (event time) stay out of the read model. */
  private retentionCutoff(): number {
    let streamTime = 0;
    for (const task of this.tasks.values()) if (task.streamTime > streamTime) streamTime = task.streamTime;
    return streamTime - this.options.readingRetentionMs;
  }

  private count(tasks: readonly PartitionTask[], batches: readonly PartitionBatch[], output: ProcessorOutput): void {
    batches.forEach((batch, i) => {
      this.counters.readings += batch.readings.length;
      this.counters.deadLetters += batch.deadLetters.length;
      this.counters.alertCommands += batch.alertCommands.length;
      const partition = tasks[i].partition;
      const counted = this.partitionCounters.get(partition) ?? { readings: 0, deadLetters: 0 };
      counted.readings += batch.readings.length;
      counted.deadLetters += batch.deadLetters.length;
      this.partitionCounters.set(partition, counted);
    });
    this.counters.aggregates += output.aggregates.length;
    this.counters.alerts += output.alerts.length;
    this.counters.late += output.late.length;
    this.counters.batches++;
  }

  private sleep(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private report(err: unknown, context: string): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.options.onError?.(new Error(`${context}: ${error.message}`, { cause: error }));
  }
}

/** The partitions' outputs back to back, in partition order: per key, emission order is kept. */
function concatOutputs(batches: readonly PartitionBatch[]): ProcessorOutput {
  if (batches.length === 1) return batches[0].output;
  const output: ProcessorOutput = { aggregates: [], alerts: [], late: [], rejected: [], cvrHours: [] };
  for (const { output: o } of batches) {
    output.cvrHours!.push(...(o.cvrHours ?? []));
    output.aggregates.push(...o.aggregates);
    output.alerts.push(...o.alerts);
    output.late.push(...o.late);
    output.rejected!.push(...(o.rejected ?? []));
  }
  return output;
}
