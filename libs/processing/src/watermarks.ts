/** JSON-safe form of one partition's watermark state. */
export interface PartitionWatermarkSnapshot {
  partition: string;
  maxEventTime: number;
  watermark: number;
  lastActivityMs: number;
  watermarkAtActivity: number;
}

/**
 * The event-time clock of one input partition.
 *
 * - On each event: watermark = max(watermark, maxEventTime − outOfOrdernessMs). It never goes back.
 * - Idleness: once the partition has had no event for idleTimeoutMs of processing time, its
 *   watermark follows processing time from there on:
 *     watermark = max(watermark, watermarkAtLastEvent + (now − lastEventAt − idleTimeoutMs))
 *   so a line that went quiet still gets its last windows closed, one idle period late, and a
 *   partition that resumes continues from wherever the idle advance got it.
 *
 * A partition exists from its first event, so all fields are finite (JSON-safe).
 */
export class PartitionWatermark {
  maxEventTime: number;
  watermark: number;
  /** Processing time of the last event. */
  lastActivityMs: number;
  /** The watermark right after the last event: the base the idle advance adds to. */
  watermarkAtActivity: number;

  constructor(
    readonly partition: string,
    private readonly outOfOrdernessMs: number,
    private readonly idleTimeoutMs: number,
    firstEventTime: number,
    nowMs: number,
  ) {
    this.maxEventTime = firstEventTime;
    this.watermark = firstEventTime - outOfOrdernessMs;
    this.lastActivityMs = nowMs;
    this.watermarkAtActivity = this.watermark;
  }

  /** Records an event; true when the watermark moved forward. */
  onEvent(eventTime: number, nowMs: number): boolean {
    this.lastActivityMs = nowMs;
    let advanced = false;
    if (eventTime > this.maxEventTime) {
      this.maxEventTime = eventTime;
      const candidate = eventTime - this.outOfOrdernessMs;
      if (candidate > this.watermark) {
        this.watermark = candidate;
        advanced = true;
      }
    }
    this.watermarkAtActivity = this.watermark;
    return advanced;
  }

  /** Applies the idle rule at processing time nowMs; true when the watermark moved forward. */
  onProcessingTime(nowMs: number): boolean {
    const idleForMs = nowMs - this.lastActivityMs - this.idleTimeoutMs;
    if (!(idleForMs > 0)) return false; // also false for idleTimeoutMs = Infinity
    const candidate = this.watermarkAtActivity + idleForMs;
    if (candidate <= this.watermark) return false;
    this.watermark = candidate;
    return true;
  }

  snapshot(): PartitionWatermarkSnapshot {
    return {
      partition: this.partition,
      maxEventTime: this.maxEventTime,
      watermark: this.watermark,
      lastActivityMs: this.lastActivityMs,
      watermarkAtActivity: this.watermarkAtActivity,
    };
  }

  static restore(snapshot: PartitionWatermarkSnapshot, outOfOrdernessMs: number, idleTimeoutMs: number): PartitionWatermark {
    const restored = new PartitionWatermark(snapshot.partition, outOfOrdernessMs, idleTimeoutMs, snapshot.maxEventTime, snapshot.lastActivityMs);
    restored.watermark = snapshot.watermark;
    restored.watermarkAtActivity = snapshot.watermarkAtActivity;
    return restored;
  }
}
