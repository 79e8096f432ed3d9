import { seededRandom } from '@meterstream/test-harness';
import { RecursiveLeastSquares } from './rls';

describe('RecursiveLeastSquares', () => {
  it('converges to the weights that generated the data', () => {
    const random = seededRandom(5);
    const rls = new RecursiveLeastSquares(3, 1, [0, 0, 0], [100, 100, 100]);
    for (let i = 0; i < 2_000; i++) {
      const x = [1, random() * 10, random() * 4 - 2];
      rls.update(x, 2 + 0.5 * x[1] - 3 * x[2] + (random() - 0.5) * 0.01);
    }
    expect(Array.from(rls.weights).map((w) => Math.round(w * 1000) / 1000)).toEqual([2, 0.5, -3]);
    expect(rls.updates).toBe(2_000);
  });

  it('forgets: with λ < 1 it follows a change of the relationship; with λ = 1 it averages over both regimes', () => {
    const fit = (forgetting: number) => {
      const rls = new RecursiveLeastSquares(1, forgetting, [0], [100]);
      for (let i = 0; i < 1_000; i++) rls.update([1], 120);
      for (let i = 0; i < 1_000; i++) rls.update([1], 117);
      return rls.weights[0];
    };
    expect(fit(0.99)).toBeCloseTo(117, 3);
    expect(fit(1)).toBeCloseTo(118.5, 1);
  });

  it('holds a weight near its prior when the prior variance is small and the data are few', () => {
    const rls = new RecursiveLeastSquares(2, 1, [0, 1], [100, 1e-6]);
    for (let i = 0; i < 10; i++) rls.update([1, 5], 10);
    expect(rls.weights[1]).toBeCloseTo(1, 3);
  });

  it('continues identically from a JSON snapshot', () => {
    const a = new RecursiveLeastSquares(2, 0.999, [0, 0], [10, 10]);
    for (let i = 0; i < 50; i++) a.update([1, i], 3 + 0.1 * i);
    const b = new RecursiveLeastSquares(2, 0.999, [0, 0], [10, 10]);
    b.restore(JSON.parse(JSON.stringify(a.snapshot())));
    a.update([1, 60], 9);
    b.update([1, 60], 9);
    expect(Array.from(b.weights)).toEqual(Array.from(a.weights));
    expect(Array.from(b.covariance)).toEqual(Array.from(a.covariance));
  });
});
