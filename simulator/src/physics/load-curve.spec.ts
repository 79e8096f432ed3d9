import { loadFactor } from './load-curve';

const MONDAY = Date.parse('2026-11-30T00:00:00Z');
const SATURDAY = Date.parse('2026-11-28T00:00:00Z');
const at = (day: number, hour: number): number => day + hour * 3_600_000;

function peakHour(day: number, fromHour: number, toHour: number): number {
  let best = fromHour;
  for (let h = fromHour; h <= toHour; h += 0.25) if (loadFactor(at(day, h)) > loadFactor(at(day, best))) best = h;
  return best;
}

describe('loadFactor (residential daily curve, UTC)', () => {
  it('stays within [0.3, 1.0] over a whole week, reaching both ends', () => {
    const values: number[] = [];
    for (let m = 0; m < 7 * 24 * 60; m += 5) values.push(loadFactor(SATURDAY + m * 60_000));
    expect(Math.min(...values)).toBeCloseTo(0.3, 2);
    expect(Math.max(...values)).toBeCloseTo(1, 2);
    expect(Math.max(...values)).toBeLessThanOrEqual(1);
  });

  it('has a weekday morning peak around 07:30 and a larger evening peak around 19:00', () => {
    const morning = peakHour(MONDAY, 5, 11);
    const evening = peakHour(MONDAY, 16, 22);
    expect(morning).toBeGreaterThanOrEqual(7);
    expect(morning).toBeLessThanOrEqual(8);
    expect(evening).toBeGreaterThanOrEqual(18.5);
    expect(evening).toBeLessThanOrEqual(19.5);
    expect(loadFactor(at(MONDAY, evening))).toBeGreaterThan(loadFactor(at(MONDAY, morning)) + 0.2);
    expect(loadFactor(at(MONDAY, 3))).toBeLessThan(0.35);
  });

  it('differs a little on weekends: a later morning peak, the same evening', () => {
    expect(peakHour(SATURDAY, 5, 12)).toBeGreaterThan(peakHour(MONDAY, 5, 12) + 1);
    expect(loadFactor(at(SATURDAY, 7.5))).toBeLessThan(loadFactor(at(MONDAY, 7.5)));
    expect(Math.abs(loadFactor(at(SATURDAY, 19)) - loadFactor(at(MONDAY, 19)))).toBeLessThan(0.05);
  });

  it('is continuous over midnight', () => {
    expect(Math.abs(loadFactor(MONDAY - 1) - loadFactor(MONDAY))).toBeLessThan(0.01);
  });
});
