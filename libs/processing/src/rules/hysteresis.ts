/**
 * When an alert raises and when it clears, for the rules that watch a signal: an alert raises
 * after `raiseAfter` breaching observations — in a row, or, with `within`, among the last
 * `within` observations — and clears after `clearAfter` calm observations in a row. Breaching
 * and calm are the caller's two tests with a gap between them (a deadband), so a signal hovering
 * at a threshold does not raise and clear over and over.
 */
export interface HysteresisOptions {
  /** Breaching observations that raise the alert... */
  raiseAfter: number;
  /** ...among this many most recent observations (at most 30); without it, in a row. */
  within?: number;
  /** Calm observations in a row that clear an open alert. */
  clearAfter: number;
}

/** One alert's hysteresis: plain JSON, so a rule can keep it in its snapshot. */
export interface HysteresisState {
  open: boolean;
  /**
   * Counted toward the next raise. In a row: breaching observations in a row while the alert is
   * closed (zero while it is open). With `within`: bit i set when the i-th most recent observation
   * breached; this window slides on every observation, the alert open or not, and a raise empties it.
   */
  breaches: number;
  /** Calm observations in a row while the alert is open (zero while it is closed). */
  calm: number;
}

export type HysteresisChange = 'raise' | 'clear';

export function closedHysteresis(): HysteresisState {
  return { open: false, breaches: 0, calm: 0 };
}

export class Hysteresis {
  /** The bits of the `within` window; undefined when breaches are counted in a row. */
  private readonly window: number | undefined;

  constructor(readonly options: HysteresisOptions) {
    const { raiseAfter, within } = options;
    if (within !== undefined && (within > 30 || raiseAfter > within)) throw new RangeError('Hysteresis: need raiseAfter <= within <= 30');
    this.window = within === undefined ? undefined : (1 << within) - 1;
  }

  /**
   * Takes one observation: whether it breaches (counts toward raising a closed alert) and whether
   * it is calm (counts toward clearing an open one). Updates `state` and returns the change the
   * observation makes, if any.
   */
  observe(state: HysteresisState, breaching: boolean, calm: boolean): HysteresisChange | undefined {
    const { raiseAfter, clearAfter } = this.options;
    if (this.window !== undefined) state.breaches = ((state.breaches << 1) | (breaching ? 1 : 0)) & this.window;
    if (state.open) {
      if (!calm) state.calm = 0;
      else if (++state.calm >= clearAfter) {
        state.calm = 0;
        state.open = false;
        return 'clear';
      }
      return undefined;
    }
    let reached: boolean;
    if (this.window !== undefined) reached = popcount(state.breaches) >= raiseAfter;
    else if (breaching) reached = ++state.breaches >= raiseAfter;
    else {
      state.breaches = 0;
      reached = false;
    }
    if (!reached) return undefined;
    state.breaches = 0;
    state.calm = 0;
    state.open = true;
    return 'raise';
  }
}

function popcount(bits: number): number {
  let count = 0;
  for (let b = bits; b !== 0; b &= b - 1) count++;
  return count;
}
