import fc from 'fast-check';
import { LineClock, SortedValues } from './line-clock';

const MINUTE = 60_000;
const timing = { outOfOrdernessMs: 5_000, allowedLatenessMs: 0, idleTimeoutMs: 30_000 };

describe('SortedValues', () => {
  it('stays sorted with the right lower median under any sequence of inserts, removes and replaces', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('insert' as const), value: fc.integer({ min: -50, max: 50 }) }),
      fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), value: fc.integer({ min: -50, max: 50 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const sorted = new SortedValues(1); // starts tiny: growing is exercised too
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'insert') {
            sorted.insert(o.value);
            model.push(o.value);
          } else if (model.length > 0) {
            const i = o.pick % model.length;
            if (o.kind === 'remove') sorted.remove(model[i]);
            else sorted.replace(model[i], o.value);
            model.splice(i, 1, ...(o.kind === 'replace' ? [o.value] : []));
          }
          const expected = [...model].sort((a, b) => a - b);
          expect(sorted.toArray()).toEqual(expected);
          expect(sorted.lowerMedian).toBe(expected.length === 0 ? -Infinity : expected[Math.ceil(expected.length / 2) - 1]);
        }
      }),
      { numRuns: 200, seed: 16 },
    );
  });

  it('keeps the common case of a line’s clock right — the smallest value replaced by a new largest — and any deviation from it', () => {
    const step = fc.record({ victim: fc.option(fc.nat(), { freq: 3 }), back: fc.integer({ min: 0, max: 40 }) });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.array(step, { minLength: 1, maxLength: 400 }), (n, steps) => {
        const sorted = new SortedValues();
        const model = Array.from({ length: n }, (_, k) => k * 10);
        for (const v of model) sorted.insert(v);
        let next = n * 10;
        for (const { victim, back } of steps) {
          model.sort((a, b) => a - b);
          const i = victim === null ? 0 : victim % model.length; // mostly the oldest meter reports
          next += 10;
          const value = next - (victim === null ? 0 : back * 10); // mostly the newest reading; sometimes an older one
          sorted.replace(model[i], value);
          model[i] = value;
        }
        model.sort((a, b) => a - b);
        expect(sorted.toArray()).toEqual(model);
        expect(sorted.lowerMedian).toBe(model[Math.ceil(model.length / 2) - 1]);
      }),
      { numRuns: 200, seed: 1616 },
    );
  });

  it('refuses to remove a value it does not hold', () => {
    const sorted = new SortedValues();
    sorted.insert(3);
    expect(() => sorted.remove(4)).toThrow(/4 is not present/);
  });
});

describe('LineClock', () => {
  /** A clock fed by one reading per meter: [deviceId, eventTime, ingestTime]. */
  const clockWith = (readings: Array<[string, number, number]>, activeMs = 2 * 60 * MINUTE) => {
    const clock = new LineClock(timing, activeMs, readings[0][2]);
    for (const [deviceId, t, ingest] of readings) clock.observe(clock.slot(deviceId), deviceId, t, ingest);
    return clock;
  };

  it('is the lower median of the meters’ newest event times minus the out-of-orderness, and never goes back', () => {
    const clock = clockWith([
      ['a', 100_000, 100_500],
      ['b', 130_000, 130_500],
      ['c', 200_000, 200_500],
    ]);
    expect(clock.progress).toBe(130_000);
    expect(clock.watermark).toBe(125_000);
    // One fast meter far ahead moves only its own maximum.
    expect(clock.observe(clock.slot('c'), 'c', 10_000_000, 200_600)).toBe(false);
    expect(clock.watermark).toBe(125_000);
    expect(clock.observe(clock.slot('a'), 'a', 150_000, 200_700)).toBe(true); // a's 150 s is now the median
    expect(clock.watermark).toBe(145_000);
    expect(clock.observe(clock.slot('b'), 'b', 120_000, 200_800)).toBe(false); // older than b's newest: no change
    expect(clock.watermark).toBe(145_000);
  });

  it('follows the ingest clock once idle for longer than the idle timeout, and resumes from there', () => {
    const clock = clockWith([['a', 100_000, 1_000]]); // watermark 95 000
    expect(clock.onIngestClock(31_000)).toBe(false); // exactly the timeout: not yet idle
    expect(clock.isIdle(31_000)).toBe(false);
    expect(clock.onIngestClock(41_000)).toBe(true); // idle for 10 s beyond the timeout
    expect(clock.watermark).toBe(105_000);
    expect(clock.onIngestClock(41_000)).toBe(false);
    expect(clock.observe(clock.slot('a'), 'a', 101_000, 50_000)).toBe(false); // older than the advanced watermark
    expect(clock.onIngestClock(80_000)).toBe(false); // active again: the idle clock restarted at 50 000
    expect(clock.onIngestClock(90_000)).toBe(true); // idle 10 s past the timeout, from 105 000
    expect(clock.watermark).toBe(115_000);
  });

  it('never advances by the ingest clock when the idle timeout is Infinity', () => {
    const clock = new LineClock({ ...timing, idleTimeoutMs: Infinity }, Infinity, 0);
    clock.observe(undefined, 'a', 100_000, 0);
    expect(clock.onIngestClock(1e15)).toBe(false);
    expect(clock.watermark).toBe(95_000);
  });

  it.each<[string, Array<[string, number, number]>, [string, number, number], number]>([
    ['a meter 50 minutes fast on a live line', [['a', 0, 500], ['b', 0, 500], ['c', 10_000, 10_500]], ['c', 20_000 + 50 * MINUTE, 20_500], 50 * MINUTE],
    ['a line back after a 40-minute outage (its meters’ clocks moved on too)', [['a', 0, 500], ['b', 0, 500]], ['a', 40 * MINUTE, 40 * MINUTE + 500], 0],
    ['meters reporting every 15 minutes, one after the other', [['a', 0, 500], ['b', 0, 500], ['c', 0, 500]], ['a', 15 * MINUTE, 15 * MINUTE + 500], 0],
    ['a line delivered an hour late', [['a', 0, 60 * MINUTE], ['b', 0, 60 * MINUTE]], ['a', 10_000, 60 * MINUTE + 10_000], 0],
    ['a meter 3 minutes fast on a line an hour late', [['a', 0, 60 * MINUTE], ['b', 0, 60 * MINUTE]], ['a', 3 * MINUTE + 10_000, 60 * MINUTE + 10_000], 3 * MINUTE],
  ])('judges how far ahead a reading is by where the other meters’ clocks are now: %s', (_name, history, [deviceId, t, ingest], ahead) => {
    const clock = clockWith(history);
    expect(clock.aheadMs(clock.slot(deviceId), t, ingest)).toBe(ahead);
  });

  it('has nobody to compare a meter with on a line of its own', () => {
    const clock = clockWith([['a', 0, 500]]);
    expect(clock.aheadMs(clock.slot('a'), 10 * 60 * MINUTE, 1_000)).toBeNaN();
    expect(clock.aheadMs(undefined, 10 * 60 * MINUTE, 1_000)).toBe(10 * 60 * MINUTE - 500); // a new meter is compared with a, whose clock is at 500 by now
  });

  it('drops meters silent for meterActiveMs from the median, in sweeps driven by ingest time', () => {
    const clock = clockWith(
      [
        ['a', 0, 0],
        ['b', 0, 0],
      ],
      10 * MINUTE,
    );
    let t = 0;
    while (clock.activeMeters === 2) {
      t += 10_000;
      clock.observe(clock.slot('a'), 'a', t, t);
      if (clock.activeMeters === 2) expect(clock.watermark).toBe(-5_000); // b (silent) holds the lower median
    }
    expect(t).toBeGreaterThan(10 * MINUTE);
    expect(t).toBeLessThanOrEqual(10 * MINUTE + 75_000 + 10_000); // swept every meterActiveMs / 8 of ingest time
    expect(clock.watermark).toBe(t - 5_000);
    expect(clock.slot('b')).toBe(-1); // expired, still among the meters seen
    expect([...clock.metersSeen()]).toEqual(['a', 'b']);
  });

  it('estimates the delivery delay: an EWMA, and the max over the last half hour to hour of ingest time', () => {
    const clock = new LineClock(timing, Infinity, 0);
    for (let i = 0; i < 200; i++) clock.recordDelay(i === 50 ? 600_000 : 3 * MINUTE, i * 10_000);
    expect(clock.deliveryDelayMs).toBeGreaterThan(3 * MINUTE);
    expect(clock.deliveryDelayMs).toBeLessThan(3 * MINUTE + 1_000); // the outlier has decayed
    expect(clock.deliveryDelayMaxMs).toBe(600_000); // ingest 500 s, still in the current bucket
    clock.recordDelay(3 * MINUTE, 31 * MINUTE); // next bucket: the previous bucket's max still shows
    expect(clock.deliveryDelayMaxMs).toBe(600_000);
    clock.recordDelay(3 * MINUTE, 61 * MINUTE); // two buckets on: forgotten
    expect(clock.deliveryDelayMaxMs).toBe(3 * MINUTE);
  });

  it('round-trips through a JSON snapshot', () => {
    const clock = clockWith([
      ['a', 100_000, 100_500],
      ['b', 130_000, 130_500],
      ['c', 200_000, 200_500],
    ]);
    clock.recordDelay(500, 200_500);
    const restored = LineClock.restore(JSON.parse(JSON.stringify(clock.snapshot())), [...clock.metersSeen()], timing, 2 * 60 * MINUTE);
    expect(restored.snapshot()).toEqual(clock.snapshot());
    expect(restored.progress).toBe(clock.progress);
    expect(restored.aheadMs(undefined, 300_000, 300_000)).toBe(clock.aheadMs(undefined, 300_000, 300_000));
    expect(restored.observe(restored.slot('a'), 'a', 190_000, 201_000)).toBe(clock.observe(clock.slot('a'), 'a', 190_000, 201_000));
    expect(restored.watermark).toBe(clock.watermark);
  });
});
