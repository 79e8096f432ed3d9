/**
 * When may the next message go out, in wall-clock ms. Three independent limits, the latest wins:
 *
 * - speed: simulated ms per real ms from the start of the run (0 = no limit);
 * - catch-up-to-now: never send a message before its simulated time on the wall clock, so a run
 *   that starts in the past replays fast and then continues live at 1×;
 * - rate: at most `rate` messages per second, smoothed over ~250 ms bursts (timers are too coarse
 *   to space 50 000 messages a second one by one).
 */
export interface PacerOptions {
  simStart: number;
  speed: number;
  catchUpToNow?: boolean;
  rate?: number;
  realStart: number;
}

const RATE_BURST_MS = 250;

export class Pacer {
  private rateClock: number;

  constructor(private readonly options: PacerOptions) {
    if (!(options.speed >= 0)) throw new Error(`speed must be >= 0 (0 = as fast as possible), got ${options.speed}`);
    if (options.rate !== undefined && !(options.rate > 0)) throw new Error(`rate must be a positive number of messages per second, got ${options.rate}`);
    this.rateClock = options.realStart;
  }

  /** Earliest wall-clock time to send a message stamped `simTime`. */
  sendAt(simTime: number): number {
    const { speed, simStart, realStart, catchUpToNow, rate } = this.options;
    let at = -Infinity;
    if (speed > 0) at = realStart + (simTime - simStart) / speed;
    if (catchUpToNow) at = Math.max(at, simTime);
    if (rate) at = Math.max(at, this.rateClock - RATE_BURST_MS);
    return at;
  }

  /** Records that a message went out at wall-clock `now`. */
  sent(now: number): void {
    if (this.options.rate) this.rateClock = Math.max(this.rateClock, now - RATE_BURST_MS) + 1000 / this.options.rate;
  }
}
