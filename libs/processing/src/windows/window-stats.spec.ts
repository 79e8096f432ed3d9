import { referenceStats } from '../testing/fixtures';
import { WindowStats } from './window-stats';

describe('WindowStats', () => {
  it('computes voltage min/max/mean and population stddev', () => {
    const stats = new WindowStats();
    for (const v of [118, 120, 122]) stats.add(v, undefined, undefined, 0);
    expect(stats.count).toBe(3);
    const voltage = stats.voltage();
    expect(voltage.min).toBe(118);
    expect(voltage.max).toBe(122);
    expect(voltage.mean).toBeCloseTo(120, 12);
    expect(voltage.stddev).toBeCloseTo(Math.sqrt(8 / 3), 12);
  });

  it('gives stddev 0 for a single reading', () => {
    const stats = new WindowStats();
    stats.add(119.6, undefined, undefined, 0);
    expect(stats.voltage()).toEqual({ min: 119.6, max: 119.6, mean: 119.6, stddev: 0 });
  });

  it('stays accurate where sum and sum of squares would cancel (large offset, small spread)', () => {
    const values = [1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16];
    const stats = new WindowStats();
    for (const v of values) stats.add(v, undefined, undefined, 0);
    // exact population variance of 4, 7, 13, 16 is 22.5
    expect(stats.voltage().stddev).toBeCloseTo(Math.sqrt(22.5), 6);
  });

  it('reports current and kw only over readings that carried them', () => {
    const stats = new WindowStats();
    stats.add(120, 8, undefined, 0);
    stats.add(121, undefined, undefined, 0);
    stats.add(122, 10, 1.5, 0);
    expect(stats.current()).toEqual({ mean: 9, max: 10 });
    expect(stats.kw()).toEqual({ mean: 1.5, max: 1.5 });
    const none = new WindowStats();
    none.add(120, undefined, undefined, 0);
    expect(none.current()).toBeUndefined();
    expect(none.kw()).toBeUndefined();
  });

  it('tracks max current correctly when all values are negative', () => {
    const stats = new WindowStats();
    stats.add(120, -3, -1, 0);
    stats.add(120, -5, -2, 0);
    expect(stats.current()).toEqual({ mean: -4, max: -3 });
    expect(stats.kw()).toEqual({ mean: -1.5, max: -1 });
  });

  it('keeps the highest ingest time', () => {
    const stats = new WindowStats();
    stats.add(120, undefined, undefined, 50);
    stats.add(120, undefined, undefined, 90);
    stats.add(120, undefined, undefined, 70);
    expect(stats.maxIngestTime).toBe(90);
  });

  it('continues identically after a JSON round trip of its snapshot', () => {
    const values = [119.1, 120.7, 118.3, 121.9, 117.2, 122.4];
    const whole = new WindowStats();
    const first = new WindowStats();
    values.forEach((v, i) => {
      whole.add(v, i % 2 ? i : undefined, undefined, i);
      if (i < 3) first.add(v, i % 2 ? i : undefined, undefined, i);
    });
    const resumed = WindowStats.restore(JSON.parse(JSON.stringify(first.snapshot())));
    values.slice(3).forEach((v, j) => resumed.add(v, (j + 3) % 2 ? j + 3 : undefined, undefined, j + 3));
    expect(resumed.snapshot()).toEqual(whole.snapshot());
    expect(resumed.voltage()).toEqual(whole.voltage());
    const ref = referenceStats(values);
    expect(whole.voltage().stddev).toBeCloseTo(ref.stddev, 10);
  });
});
