/**
 * Event-time window assignment for tumbling (hop = size) and hopping windows, aligned to the epoch.
 *
 * A window is [start, start + size) with start a multiple of the hop. An event at time t belongs
 * to the size/hop windows whose start lies in (t - size, t]. The span [k·hop, (k+1)·hop) that all
 * those windows share is the event's "pane"; its end is the end of the earliest window the event
 * belongs to, which is what lateness is judged by (see StreamTopology).
 */
export class WindowAssigner {
  /** How many windows every event belongs to. */
  readonly windowsPerEvent: number;

  constructor(
    readonly sizeMs: number,
    readonly hopMs: number,
  ) {
    this.windowsPerEvent = sizeMs / hopMs;
  }

  /** Start of the pane holding t; also the start of the latest window holding t. */
  paneStart(eventTime: number): number {
    return Math.floor(eventTime / this.hopMs) * this.hopMs;
  }

  /** Start of the earliest window holding t (the first to fire). */
  firstWindowStart(eventTime: number): number {
    return this.paneStart(eventTime) + this.hopMs - this.sizeMs;
  }

  /** End of the earliest window holding t: once that window fired, the event is late. */
  firstWindowEnd(eventTime: number): number {
    return this.paneStart(eventTime) + this.hopMs;
  }

  /** Window starts holding t, earliest first. Allocates: meant for tests and tools, not the hot path. */
  windowStarts(eventTime: number): number[] {
    const first = this.firstWindowStart(eventTime);
    const starts: number[] = [];
    for (let i = 0; i < this.windowsPerEvent; i++) starts.push(first + i * this.hopMs);
    return starts;
  }
}
