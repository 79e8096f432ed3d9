import { changedLineCounters } from './line-counters';
import { decodeEnvelope, type AlertCommandEnvelope, type DeadLetterEnvelope, type ReadingEnvelope } from '@meterstream/contracts';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  PARTITION_CHECKPOINT_VERSION,
  StreamTopology,
  type AlertRule,
  type PartitionCheckpoint,
  type ProcessorOptions,
  type ProcessorOutput,
  type VoltageModelVersion,
} from '@meterstream/processing';
import type { LineCounters } from '@meterstream/read-model';
import type { StreamRecord } from '@meterstream/stream';

/** What one poll read from a partition: its readings, and its dead-letter partitions' records. */
export interface PartitionInput {
  readings: readonly StreamRecord[];
  /** Dead-letter partition → records read after its position. */
  deadLetters: ReadonlyMap<string, readonly StreamRecord[]>;
  /** Alert-command partition → records read after its position (read only once the readings are caught up). */
  alertCommands?: ReadonlyMap<string, readonly StreamRecord[]>;
}

/** What one poll of a partition produced, for the processor to write. */
export interface PartitionBatch {
  readings: ReadingEnvelope[];
  deadLetters: DeadLetterEnvelope[];
  /** Operators' commands, for the read model (after this poll's alert events). */
  alertCommands: AlertCommandEnvelope[];
  output: ProcessorOutput;
  /** Lines whose late/duplicate totals changed since last written. */
  lineCounters: LineCounters[];
  /** Input records consumed (readings, dead letters and alert commands). */
  consumed: number;
}

export interface PartitionTaskOptions {
  topology: ProcessorOptions;
  /** A fresh set of alert rules per partition (rules hold per-line state); default: the topology's own. */
  rules?: () => AlertRule[];
  /** Processing time; with it, checkpoints record when they were saved and a restart how long it was stopped. */
  now?: () => number;
}

/**
 * One owned `readings` partition: its own StreamTopology, its input positions and its stream
 * time, plus the last checkpoint saved (or loaded) for it. Lines are keyed to partitions, so a
 * topology per partition emits exactly what one topology over every partition would; that is
 * what lets a partition's state move to another instance on its own.
 *
 * Everything after the last checkpoint lives only in memory: rollback() goes back to it, which
 * is what the processor does whenever a poll's writes or a checkpoint fail.
 */
export class PartitionTask {
  private topology!: StreamTopology;
  private position: string | null = null;
  private deadLetterPositions: Record<string, string> = {};
  private alertCommandPositions: Record<string, string> = {};
  private streamTimeMs = 0;
  /** The newest checkpoint known to be in the store: what rollback() restores. */
  private saved: PartitionCheckpoint;
  /** Processed input or emitted output since the last saved checkpoint. */
  private changed = false;
  /** The newest model version offered since the last rollback. */
  private offeredModelVersion = 0;
  /** Per line, the late/duplicate totals last handed to the read model, to write only what changed. */
  private readonly writtenCounters = new Map<string, string>();
  /** Processing time the task was created (took the partition over). */
  private readonly startedAt: number;

  /**
   * @param order the partition's index in the readings stream: polls visit partitions in this order.
   * @param deadLetterPartitions the dead-letter partitions this partition carries.
   * @param stored the stored checkpoint text, or null when the partition was never checkpointed.
   * @param alertCommandPartitions the alert-command partitions this partition carries (by the same rule as dead letters).
   */
  constructor(
    readonly partition: string,
    readonly order: number,
    readonly deadLetterPartitions: readonly string[],
    stored: string | null,
    private readonly options: PartitionTaskOptions,
    readonly alertCommandPartitions: readonly string[] = [],
  ) {
    this.saved = decodeCheckpoint(partition, stored);
    this.startedAt = options.now?.() ?? 0;
    this.rollback();
  }

  /** True when the state has moved past the last saved checkpoint. */
  get dirty(): boolean {
    return this.changed;
  }

  /** Highest reading event time processed on this partition. */
  get streamTime(): number {
    return this.streamTimeMs;
  }

  /** Last readings position processed, or null before the first. */
  get readingsPosition(): string | null {
    return this.position;
  }

  /** Where to read each dead-letter partition from (null: its oldest record). */
  deadLetterPosition(deadLetterPartition: string): string | null {
    return this.deadLetterPositions[deadLetterPartition] ?? null;
  }

  /** Where to read each alert-command partition from (null: its oldest record). */
  alertCommandPosition(alertCommandPartition: string): string | null {
    return this.alertCommandPositions[alertCommandPartition] ?? null;
  }

  get deadLetterPositionsByPartition(): Readonly<Record<string, string>> {
    return this.deadLetterPositions;
  }

  /** The voltage model version the partition's rules run with (0: learned online only). */
  get modelVersion(): number {
    return this.topology.modelVersion;
  }

  /**
   * Installs a published model into the partition's rules (part of the state from here on)
   * unless it runs that version or a newer one already, or was offered it before (a rule set
   * without a model-based rule keeps version 0 whatever it is offered). True when installed.
   */
  offerModel(model: VoltageModelVersion): boolean {
    if (model.version <= Math.max(this.topology.modelVersion, this.offeredModelVersion)) return false;
    this.topology.installModel(model);
    this.offeredModelVersion = model.version;
    this.changed = true;
    return true;
  }

  stats(): ReturnType<StreamTopology['stats']> {
    return this.topology.stats();
  }

  /**
   * Runs one poll's input through the topology (readings in log order), lets processing time
   * pass, and takes the output. Positions advance in memory only.
   */
  process(input: PartitionInput, now: number): PartitionBatch {
    const readings: ReadingEnvelope[] = [];
    for (const record of input.readings) {
      const reading = decodeEnvelope<ReadingEnvelope>(record.value);
      readings.push(reading);
      if (reading.eventTime > this.streamTimeMs) this.streamTimeMs = reading.eventTime;
      this.topology.process(this.partition, reading, now);
      this.position = record.position;
    }
    const deadLetters: DeadLetterEnvelope[] = [];
    for (const [deadLetterPartition, records] of input.deadLetters) {
      for (const record of records) deadLetters.push(decodeEnvelope<DeadLetterEnvelope>(record.value));
      if (records.length > 0) this.deadLetterPositions[deadLetterPartition] = records[records.length - 1].position;
    }
    const alertCommands: AlertCommandEnvelope[] = [];
    for (const [commandPartition, records] of input.alertCommands ?? []) {
      for (const record of records) alertCommands.push(decodeEnvelope<AlertCommandEnvelope>(record.value));
      if (records.length > 0) this.alertCommandPositions[commandPartition] = records[records.length - 1].position;
    }
    const consumed = readings.length + deadLetters.length + alertCommands.length;
    // Idle lines advance on the clock only once this partition is caught up (an empty poll):
    // during a catch-up the ingest times in the data drive them, as in a replay.
    if (readings.length === 0) this.topology.advanceProcessingTime(now);
    const output = this.topology.takeOutput();
    if (consumed > 0 || output.aggregates.length > 0 || output.alerts.length > 0 || output.late.length > 0 || (output.rejected?.length ?? 0) > 0 || (output.cvrHours?.length ?? 0) > 0) this.changed = true;
    return { readings, deadLetters, alertCommands, output, lineCounters: this.changedLineCounters(), consumed };
  }

  /** The checkpoint of the current state: call only once everything it covers has been written. */
  checkpoint(): PartitionCheckpoint {
    return {
      v: PARTITION_CHECKPOINT_VERSION,
      partition: this.partition,
      position: this.position,
      deadLetters: { ...this.deadLetterPositions },
      alertCommands: { ...this.alertCommandPositions },
      streamTime: this.streamTimeMs,
      topology: this.topology.snapshot(),
      ...(this.options.now ? { savedAt: this.options.now() } : {}),
    };
  }

  /** Records that `checkpoint` is now durable in the store. */
  markSaved(checkpoint: PartitionCheckpoint): void {
    this.saved = checkpoint;
    // Unchanged only if nothing was processed since checkpoint() was taken (the processor's lock ensures it).
    this.changed = false;
  }

  /** Discards everything since the last saved checkpoint: the next poll reads from its positions again. */
  rollback(): void {
    // Through the text form, so the live state never aliases the saved one.
    const saved = JSON.parse(encodeCheckpoint(this.saved)) as PartitionCheckpoint;
    this.topology = new StreamTopology(this.options.topology, saved.topology ?? undefined, this.options.rules?.());
    // Restored from a checkpoint: up to the time processing stopped (from the checkpoint's save to
    // this task's start), a jump of the ingest clock before it is caught up again is that stop, not silence.
    this.topology.resume(this.saved.savedAt === undefined ? 0 : Math.max(0, this.startedAt - this.saved.savedAt));
    this.position = saved.position;
    this.deadLetterPositions = saved.deadLetters;
    this.alertCommandPositions = saved.alertCommands ?? {};
    this.streamTimeMs = saved.streamTime;
    this.writtenCounters.clear();
    this.offeredModelVersion = 0;
    this.changed = false;
  }

  private changedLineCounters(): LineCounters[] {
    return changedLineCounters(this.topology.lineFigures(), this.writtenCounters);
  }
}

/**
 * The dead-letter partitions that travel with readings partition `partition`: those whose index
 * in the dead-letters stream's partition list is congruent to the readings partition's index
 * modulo the readings partition count. With equal counts (the usual case: both streams are
 * created with STREAM_PARTITIONS) that is the partition with the same index; with unequal counts
 * every dead-letter partition still has exactly one owner.
 */
export function deadLetterPartitionsOf(partition: string, readingsPartitions: readonly string[], deadLetterPartitions: readonly string[]): string[] {
  const index = readingsPartitions.indexOf(partition);
  if (index < 0) return [];
  return deadLetterPartitions.filter((_, i) => i % readingsPartitions.length === index);
}
