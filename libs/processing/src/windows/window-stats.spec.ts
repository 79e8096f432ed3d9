import { seededRandom } from '@meterstream/test-harness';
import { referenceStats } from '../testing/fixtures';
import { nearestRank, WindowStats } from './window-stats';

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
    expect(stats.voltage()).toEqual({ min: 119.6, max: 119.6, mean: 119.6, stddev: 0, p5: 119.6, p95: 119.6 });
  });

  it('gives nearest-rank p5 and p95: the value at rank ceil(p * n / 100)', () => {
    const stats = new WindowStats();
    // 1..20 in scrambled order: p5 is rank ceil(1) = 1, p95 is rank ceil(19) = 19 (exactly 95 % are <= 19).
    for (const v of [7, 19, 3, 20, 1, 14, 2, 16, 9, 5, 12, 18, 4, 11, 8, 17, 6, 13, 10, 15]) stats.add(v, undefined, undefined, 0);
    expect(stats.voltage()).toMatchObject({ p5: 1, p95: 19 });
    // One more value: n = 21, p5 rank ceil(1.05) = 2, p95 rank ceil(19.95) = 20.
    stats.add(21, undefined, undefined, 0);
    expect(stats.voltage()).toMatchObject({ p5: 2, p95: 20 });
  });

  it('gives the same percentiles for any arrival order, beyond the initial buffer capacity', () => {
    const random = seededRandom(7);
    const values = Array.from({ length: 203 }, () => Math.round((110 + random() * 20) * 10) / 10);
    const forward = new WindowStats();
    const backward = new WindowStats();
    values.forEach((v) => forward.add(v, undefined, undefined, 0));
    [...values].reverse().forEach((v) => backward.add(v, undefined, undefined, 0));
    const ref = referenceStats(values);
    expect(forward.voltage()).toMatchObject({ p5: ref.p5, p95: ref.p95 });
    expect(backward.voltage()).toMatchObject({ p5: ref.p5, p95: ref.p95 });
  });

  it('computes the nearest rank without a floating-point off-by-one', () => {
    // (7 / 100) * 100 is 7.000000000000001 in binary, whose ceiling is 8; integer percent * n is exact.
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(nearestRank(hundred, 7)).toBe(7);
    expect(nearestRank(hundred, 5)).toBe(5);
    expect(nearestRank(hundred, 95)).toBe(95);
    const sixty = Array.from({ length: 60 }, (_, i) => i + 1);
    expect(nearestRank(sixty, 5)).toBe(3);
    expect(nearestRank(sixty, 95)).toBe(57);
    expect(nearestRank([4, 9], 5)).toBe(4);
    expect(nearestRank([4, 9], 95)).toBe(9);
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
    // More values than the initial buffer holds, so the restored buffer has to grow as well.
    const values = [119.1, 120.7, 118.3, 121.9, 117.2, 122.4, 116.8, 123.3, 119.9, 120.2, 115.4, 124.6];
    const whole = new WindowStats();
    const first = new WindowStats();
    values.forEach((v, i) => {
      whole.add(v, i % 2 ? i : undefined, undefined, i);
      if (i < 7) first.add(v, i % 2 ? i : undefined, undefined, i);
    });
    const resumed = WindowStats.restore(JSON.parse(JSON.stringify(first.snapshot())));
    values.slice(7).forEach((v, j) => resumed.add(v, (j + 7) % 2 ? j + 7 : undefined, undefined, j + 7));
    expect(resumed.snapshot()).toEqual(whole.snapshot());
    expect(resumed.voltage()).toEqual(whole.voltage());
    const ref = referenceStats(values);
    expect(whole.voltage().stddev).toBeCloseTo(ref.stddev, 10);
    expect(whole.voltage()).toMatchObject({ p5: ref.p5, p95: ref.p95 });
  });
});
