import { closedHysteresis, Hysteresis, type HysteresisChange } from './hysteresis';

/** Feeds observations of a signal; breaching above `raise`, calm below `clear`. Returns the change per step ('.' for none). */
function run(hysteresis: Hysteresis, values: number[], raise = 5, clear = 2, state = closedHysteresis()): string {
  return values.map((v) => short(hysteresis.observe(state, v > raise, v < clear))).join('');
}

const short = (change: HysteresisChange | undefined) => (change === 'raise' ? 'R' : change === 'clear' ? 'C' : '.');

describe('Hysteresis, raising on breaches in a row', () => {
  it('raises on the raiseAfter-th breach in a row, and a non-breach starts the count over', () => {
    const h = new Hysteresis({ raiseAfter: 3, clearAfter: 2 });
    expect(run(h, [9, 9, 0, 9, 9, 9])).toBe('.....R');
  });

  it('clears on the clearAfter-th calm observation in a row; anything not calm starts the count over', () => {
    const h = new Hysteresis({ raiseAfter: 1, clearAfter: 3 });
    // raise, calm, calm, not calm (between the thresholds), calm x3
    expect(run(h, [9, 0, 0, 3, 0, 0, 0])).toBe('R.....C');
  });

  it('raises once while open and clears once: breaches while open count toward nothing', () => {
    const h = new Hysteresis({ raiseAfter: 2, clearAfter: 2 });
    const state = closedHysteresis();
    expect(run(h, [9, 9, 9, 9, 9], 5, 2, state)).toBe('.R...');
    expect(state).toEqual({ open: true, breaches: 0, calm: 0 });
    expect(run(h, [0, 0, 9], 5, 2, state)).toBe('.C.');
    expect(state).toEqual({ open: false, breaches: 1, calm: 0 });
  });

  it('does not flap at the boundary: hovering at the raise threshold neither raises nor, once open, clears; hovering at the clear threshold does not clear', () => {
    const h = new Hysteresis({ raiseAfter: 2, clearAfter: 2 });
    const state = closedHysteresis();
    // alternating just above and just below the raise threshold: never two breaches in a row
    expect(run(h, [5.1, 4.9, 5.1, 4.9, 5.1, 4.9], 5, 2, state)).toBe('......');
    expect(run(h, [5.1, 5.1], 5, 2, state)).toBe('.R');
    // once open, the same hovering is in the deadband between the thresholds: it stays open
    expect(run(h, [5.1, 4.9, 5.1, 4.9, 3, 2.1], 5, 2, state)).toBe('......');
    // and just under the clear threshold, alternating with just over it, never clears either
    expect(run(h, [1.9, 2.1, 1.9, 2.1], 5, 2, state)).toBe('....');
    expect(run(h, [1.9, 1.9], 5, 2, state)).toBe('.C');
  });
});

describe('Hysteresis, raising on k of the last n', () => {
  it('raises once raiseAfter of the last `within` observations breached, in any order', () => {
    const h = new Hysteresis({ raiseAfter: 3, within: 5, clearAfter: 2 });
    expect(run(h, [9, 0, 0, 9, 9])).toBe('....R');
    expect(run(h, [9, 0, 9, 0, 9])).toBe('....R');
    expect(run(h, [9, 0, 9, 0, 0, 9])).toBe('......'); // 3 of the last 6, but never 3 of the last 5
    expect(run(h, [9, 0, 0, 0, 0, 9, 0, 9])).toBe('........');
  });

  it('forgets a breach once it is older than the window', () => {
    const h = new Hysteresis({ raiseAfter: 2, within: 3, clearAfter: 1 });
    expect(run(h, [9, 0, 0, 9])).toBe('....');
    expect(run(h, [9, 0, 9])).toBe('..R');
  });

  it('empties the window on a raise, and keeps it sliding while open', () => {
    const h = new Hysteresis({ raiseAfter: 2, within: 4, clearAfter: 1 });
    const state = closedHysteresis();
    expect(run(h, [9, 9], 5, 2, state)).toBe('.R');
    expect(state.breaches).toBe(0);
    // while open: a breach, then a calm observation that clears; the breach is still in the window...
    expect(run(h, [9, 0], 5, 2, state)).toBe('.C');
    expect(state).toEqual({ open: false, breaches: 0b10, calm: 0 });
    // ...so one more breach raises again
    expect(run(h, [9], 5, 2, state)).toBe('R');
  });

  it('refuses a window it cannot keep in 30 bits, or a count larger than the window', () => {
    expect(() => new Hysteresis({ raiseAfter: 3, within: 31, clearAfter: 1 })).toThrow(RangeError);
    expect(() => new Hysteresis({ raiseAfter: 4, within: 3, clearAfter: 1 })).toThrow(RangeError);
    expect(() => new Hysteresis({ raiseAfter: 30, within: 30, clearAfter: 1 })).not.toThrow();
  });
});

describe('Hysteresis state', () => {
  it('is plain JSON: a round-tripped state continues exactly as the original', () => {
    const h = new Hysteresis({ raiseAfter: 2, within: 4, clearAfter: 3 });
    const values = [9, 0, 9, 3, 0, 9, 0, 0, 0, 9, 9, 0];
    const whole = run(h, values);
    const state = closedHysteresis();
    const head = run(h, values.slice(0, 5), 5, 2, state);
    const tail = run(h, values.slice(5), 5, 2, JSON.parse(JSON.stringify(state)));
    expect(whole).toBe('..R.....C.R.');
    expect(head + tail).toBe(whole);
  });
});
