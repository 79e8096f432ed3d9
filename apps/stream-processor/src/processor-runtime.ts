import { changedLineCounters } from './line-counters';
import type Database from 'better-sqlite3';
import {
  decodeEnvelope,
  encodeEnvelope,
  STREAMS,
  type DeadLetterEnvelope,
  type Envelope,
  type ReadingEnvelope,
} from '@meterstream/contracts';
import { StreamTopology, type AlertRule, type ProcessorOptions, type ProcessorStats, type VoltageModelVersion } from '@meterstream/processing';
import type { LineCounters, SqliteReadModel } from '@meterstream/read-model';
import type { EmbeddedStreamLog } from '@meterstream/stream';
import { CheckpointStore, type Checkpoint } from './checkpoint-store';

export interface ProcessorRuntimeOptions {
  topology: ProcessorOptions;
  /** Most records read per partition per batch. */
  maxRecordsPerPartition: number;
  /** Pause between polls when the input is caught up. */
  idlePollMs: number;
  /** Raw readings stay in the read model this long behind the newest event time seen. */
  readingRetentionMs: number;
  logRetentionMs: number;
  /** Processing time source; injectable so tests are deterministic. */
  now?: () => number;
  /** Told about a batch that failed to commit (it is retried from the checkpoint). */
  onError?: (err: Error) => void;
  /** The alert rules, made fresh for every (re)start; default: the topology's ANSI limit rule alone. */
  rules?: () => AlertRule[];
  /** Where published models come from; a newer version is installed between batches. */
  models?: { latest(): VoltageModelVersion | null };
  /** Told when a published model version was installed. */
  onModelInstalled?: (version: number) => void;
}

export interface ProcessorCounters {
  readings: number;
  deadLetters: number;
  aggregates: number;
  alerts: number;
  late: number;
  batches: number;
}

const INPUTS = [STREAMS.readings, STREAMS.deadLetters] as const;

/**
 * The processor's I/O loop around the pure StreamTopology, on the embedded log: read a batch from
 * every input partition, run it through the topology, then in ONE SQLite transaction append the
 * outputs (aggregates, alerts, late side output), apply the read model and save the checkpoint
 * (topology state + input positions). A crash at any point resumes from the last checkpoint with
 * nothing emitted twice and nothing missing.
 */
export class ProcessorRuntime {
  readonly counters: ProcessorCounters = { readings: 0, deadLetters: 0, aggregates: 0, alerts: 0, late: 0, batches: 0 };
  private topology!: StreamTopology;
  private positions: Checkpoint['positions'] = {};
  /** Highest event time processed: the clock of read-model retention, so a replay prunes identically. */
  private streamTime = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastPruneAt = 0;
  private lastModelCheck = -Infinity;
  private offeredModelVersion = 0;
  /** Per-line late/duplicate totals last written to the read model, to write only what changed. */
  private readonly writtenCounters = new Map<string, string>();
  private readonly commitBatch: (batch: CommitBatch) => void;
  private readonly now: () => number;

  constructor(
    private readonly db: Database.Database,
    private readonly log: EmbeddedStreamLog,
    private readonly readModel: SqliteReadModel,
    private readonly checkpoints: CheckpointStore,
    private readonly options: ProcessorRuntimeOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.commitBatch = db.transaction((batch: CommitBatch) => this.commitSync(batch));
    this.restore();
  }

  /** Loads the last checkpoint (or starts from the beginning of the streams). */
  private restore(): void {
    const checkpoint = this.checkpoints.load();
    this.positions = checkpoint.positions;
    this.streamTime = checkpoint.streamTime ?? 0;
    this.writtenCounters.clear();
    this.topology = new StreamTopology(this.options.topology, checkpoint.topology ?? undefined, this.options.rules?.());
    this.lastModelCheck = -Infinity;
    this.offeredModelVersion = 0;
  }

  /**
   * Installs a newer published model, at most once a second. It becomes part of the topology state
   * and so of the next checkpoint: a restart continues with it, never with an older one.
   */
  private installNewerModel(now: number): void {
    const models = this.options.models;
    if (models === undefined || now - this.lastModelCheck < 1000) return;
    this.lastModelCheck = now;
    const latest = models.latest();
    if (latest !== null && latest.version > Math.max(this.topology.modelVersion, this.offeredModelVersion)) {
      // Offered once: a rule set without a model (fixed-variance) keeps version 0 and must not be offered it again every second.
      this.offeredModelVersion = latest.version;
      this.topology.installModel(latest);
      this.options.onModelInstalled?.(latest.version);
    }
  }

  get modelVersion(): number {
    return this.topology.modelVersion;
  }

  stats(): ProcessorStats {
    return this.topology.stats();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the batch in progress (it commits whole) and stops. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let processed: number;
      try {
        processed = this.processBatch();
      } catch (err) {
        // The batch did not commit (the database is busy or failing): its in-memory effects are
        // discarded by going back to the checkpoint, and the batch is read again after a pause.
        this.options.onError?.(err as Error);
        this.restore();
        await new Promise((resolve) => setTimeout(resolve, 1000));
        continue;
      }
      if (processed === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.idlePollMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      } else {
        // Yield so shutdown signals and timers are served between batches.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }

  /** Reads, processes and commits one batch; returns how many input records it consumed. */
  processBatch(): number {
    const now = this.now();
    this.installNewerModel(now);
    const readings: ReadingEnvelope[] = [];
    const deadLetters: DeadLetterEnvelope[] = [];
    const nextPositions: Checkpoint['positions'] = {};
    let consumed = 0;

    for (const stream of INPUTS) {
      const positions = { ...(this.positions[stream] ?? {}) };
      for (let p = 0; p < this.log.partitionCount(stream); p++) {
        const partition = String(p);
        const records = this.log.readSync(stream, partition, positions[partition] ?? null, this.options.maxRecordsPerPartition);
        if (records.length === 0) continue;
        positions[partition] = records[records.length - 1].position;
        consumed += records.length;
        for (const record of records) {
          const envelope = decodeEnvelope<Envelope>(record.value);
          if (stream === STREAMS.readings) {
            const reading = envelope as ReadingEnvelope;
            readings.push(reading);
            if (reading.eventTime > this.streamTime) this.streamTime = reading.eventTime;
            this.topology.process(partition, reading, now);
          } else {
            deadLetters.push(envelope as DeadLetterEnvelope);
          }
        }
      }
      nextPositions[stream] = positions;
    }
    this.topology.advanceProcessingTime(now);
    if (consumed === 0 && !this.topology.hasOutput) {
      this.pruneIfDue(now);
      return 0;
    }

    const output = this.topology.takeOutput();
    this.commitBatch({ readings, deadLetters, output, positions: nextPositions, now });
    this.positions = nextPositions;
    this.counters.readings += readings.length;
    this.counters.deadLetters += deadLetters.length;
    this.counters.aggregates += output.aggregates.length;
    this.counters.alerts += output.alerts.length;
    this.counters.late += output.late.length;
    this.counters.batches++;
    this.pruneIfDue(now);
    return consumed;
  }

  private commitSync(batch: CommitBatch): void {
    const { output } = batch;
    const toRecords = (envelopes: readonly Envelope[]) => envelopes.map((e) => ({ key: e.lineId, value: encodeEnvelope(e) }));
    if (output.aggregates.length > 0) this.log.appendSync(STREAMS.aggregates, toRecords(output.aggregates), batch.now);
    if (output.alerts.length > 0) this.log.appendSync(STREAMS.alerts, toRecords(output.alerts), batch.now);
    if (output.late.length > 0) this.log.appendSync(STREAMS.lateReadings, toRecords(output.late), batch.now);
    // Retention of raw readings runs on stream time, in every commit: the read model after any
    // run, replay or crash-and-resume of the same input is the same.
    const cutoff = this.streamTime - this.options.readingRetentionMs;
    this.readModel.pruneReadingsSync(cutoff);
    // Late readings live in the late-readings stream and the line's counter, nowhere else.
    // By identity, not id: a reading and its own late redelivery can share a batch, and only the
    // redelivery is late.
    const late = output.late.length > 0 ? new Set<ReadingEnvelope>(output.late) : undefined;
    this.readModel.applySync({
      readings: batch.readings.filter((r) => r.eventTime >= cutoff && !late?.has(r)),
      aggregates: output.aggregates,
      alerts: output.alerts,
      deadLetters: batch.deadLetters,
      lineCounters: this.changedLineCounters(),
    });
    this.checkpoints.saveSync({ positions: batch.positions, streamTime: this.streamTime, topology: this.topology.snapshot() }, batch.now);
  }

  private changedLineCounters(): LineCounters[] {
    return changedLineCounters(this.topology.stats(), this.writtenCounters);
  }

  /** Retention of the log itself (append time, like Kafka's retention.ms), once a minute. */
  private pruneIfDue(now: number): void {
    if (now - this.lastPruneAt < 60_000) return;
    this.lastPruneAt = now;
    this.log.pruneSync(now - this.options.logRetentionMs);
  }
}

interface CommitBatch {
  readings: ReadingEnvelope[];
  deadLetters: DeadLetterEnvelope[];
  output: ReturnType<StreamTopology['takeOutput']>;
  positions: Checkpoint['positions'];
  now: number;
}
