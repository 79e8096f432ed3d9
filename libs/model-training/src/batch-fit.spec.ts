import { FEATURE_NAMES } from '@meterstream/processing';
import { fitVoltageModel } from './batch-fit';
import { heldOutError } from './held-out';
import { HOUR, swingingLoad, syntheticReadings } from './testing/synthetic-line';

const START = Date.parse('2026-03-02T10:00:00Z');
const NOISE_V = 0.2;
/** Mean absolute value of N(0, σ²). */
const NOISE_MAE = NOISE_V * Math.sqrt(2 / Math.PI);

describe('fitVoltageModel on a line with known physics', () => {
  const { readings, truth } = syntheticReadings({ seed: 11, lines: 2, metersPerLine: 8, start: START, durationMs: 6 * HOUR, noiseV: NOISE_V });
  const cut = START + 5 * HOUR;
  const train = readings.filter((r) => r.eventTime < cut);
  const heldOut = readings.filter((r) => r.eventTime >= cut);
  const fit = fitVoltageModel(train, { createdAt: '2026-03-02T16:00:00.000Z' });

  it('recovers every meter\'s offset and load slope relative to the line (the level absorbs one common constant)', () => {
    const meanLoad = 1.2;
    for (const line of truth) {
      const meters = fit.lines[line.lineId].meters;
      const reference = line.meters[0];
      const [a0, b0] = meters[reference.deviceId];
      for (const m of line.meters) {
        const [a, b] = meters[m.deviceId];
        // Where the data is (the mean load) the offset is pinned down tightly; the slope a little less.
        const fittedAtMean = a - a0 + (b - b0) * meanLoad;
        const trueAtMean = m.offsetV - reference.offsetV + (m.slopeVPerKw - reference.slopeVPerKw) * meanLoad;
        expect(Math.abs(fittedAtMean - trueAtMean)).toBeLessThan(0.03);
        expect(Math.abs(b - b0 - (m.slopeVPerKw - reference.slopeVPerKw))).toBeLessThan(0.05);
      }
    }
  });

  it('predicts a reading as level + offset: the level and offset weights near 1, the rest near 0, residuals at the noise level', () => {
    for (const line of truth) {
      const p = fit.lines[line.lineId];
      const w = Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, p.weights[i]]));
      expect(w.lineLevelV).toBeCloseTo(1, 2);
      expect(w.meterOffsetV).toBeCloseTo(1, 1);
      expect(Math.abs(w.lineLoadKw)).toBeLessThan(0.1);
      expect(p.meanAbsResidual).toBeGreaterThan(0.9 * NOISE_MAE);
      expect(p.meanAbsResidual).toBeLessThan(1.1 * NOISE_MAE);
    }
  });

  it('fits the line baseline: a window mean is the mean meter at this load', () => {
    for (const line of truth) {
      const p = fit.lines[line.lineId];
      const meanOffset = line.meters.reduce((s, m) => s + m.offsetV, 0) / line.meters.length;
      const meanSlope = line.meters.reduce((s, m) => s + m.slopeVPerKw, 0) / line.meters.length;
      // Prediction at a few loads and hours, not the raw weights: time-of-day and intercept trade off over six hours.
      for (const t of [START + HOUR, START + 3 * HOUR, START + 5.5 * HOUR]) {
        const load = swingingLoad(t);
        const expected = line.levelV + meanOffset + (line.levelSlopeVPerKw + meanSlope) * load;
        const phase = (2 * Math.PI * (t % 86_400_000)) / 86_400_000;
        const x = [1, Math.sin(phase), Math.cos(phase), Math.sin(2 * phase), Math.cos(2 * phase), load];
        const predicted = x.reduce((s, v, i) => s + v * p.baseline[i], 0);
        expect(Math.abs(predicted - expected)).toBeLessThan(0.1);
      }
      // A one-minute mean of 8 meters: noise σ/√(readings per window).
      expect(p.baselineMeanAbsResidual).toBeLessThan(NOISE_MAE / 2);
    }
  });

  it('scores held-out readings at the noise level, where a wrong model does far worse', () => {
    const good = heldOutError(fit.lines, heldOut);
    expect(good.count).toBe(heldOut.length);
    expect(good.mae).toBeGreaterThan(0.9 * NOISE_MAE);
    expect(good.mae).toBeLessThan(1.15 * NOISE_MAE);
    // The same model with every meter's offset 0.8 V off, alternately up and down.
    const wrong = Object.fromEntries(
      Object.entries(fit.lines).map(([lineId, p]) => [
        lineId,
        { ...p, meters: Object.fromEntries(Object.entries(p.meters).map(([id, [a, b]], i) => [id, [a + (i % 2 === 0 ? 0.8 : -0.8), b] as [number, number]])) },
      ]),
    );
    expect(heldOutError(wrong, heldOut).mae).toBeGreaterThan(good.mae + 0.1);
  });

  it('reports the rows behind each fit', () => {
    const perLine = train.length / truth.length;
    for (const line of truth) {
      const rows = fit.rows[line.lineId];
      expect(rows.readings).toBe(perLine);
      expect(rows.meters).toBe(8);
      expect(rows.metersWithoutSlope).toBe(0);
      // The first five minutes settle the level; trimming drops at most a few rows of Gaussian noise.
      expect(rows.readingRows).toBeLessThan(perLine - 5 * 4 * 8 + 1);
      expect(rows.readingRows).toBeGreaterThan(0.99 * (perLine - 5 * 4 * 8));
      expect(rows.meterRows).toBeGreaterThan(0.99 * (perLine - 5 * 4 * 8));
      expect(rows.windows).toBeGreaterThan(0.99 * 5 * 60);
      expect(rows.windows).toBeLessThanOrEqual(5 * 60);
    }
    expect(fit.trainedOn).toEqual({ from: train[0].eventTime, to: train[train.length - 1].eventTime + 1 });
  });

  it('is deterministic: the same readings give the same parameters', () => {
    expect(fitVoltageModel(train, { createdAt: fit.createdAt })).toEqual(fit);
  });
});

describe('fitVoltageModel when the load did not vary', () => {
  it('gives each meter its mean deviation from the line and no load slope', () => {
    const { readings, truth } = syntheticReadings({ seed: 5, lines: 1, metersPerLine: 6, start: START, durationMs: 2 * HOUR, noiseV: NOISE_V, load: () => 1.5 });
    const fit = fitVoltageModel(readings);
    const line = truth[0];
    const meters = fit.lines[line.lineId].meters;
    expect(fit.rows[line.lineId].metersWithoutSlope).toBe(6);
    for (const m of line.meters) {
      const [a, b] = meters[m.deviceId];
      expect(b).toBe(0);
      // At the one load seen, offset differences are (offset + slope·1.5) differences.
      const [a0] = meters[line.meters[0].deviceId];
      const want = m.offsetV + 1.5 * m.slopeVPerKw - (line.meters[0].offsetV + 1.5 * line.meters[0].slopeVPerKw);
      expect(Math.abs(a - a0 - want)).toBeLessThan(0.05);
    }
  });

  it('leaves out a line too short to settle its level, and reports it', () => {
    const { readings } = syntheticReadings({ seed: 5, lines: 1, metersPerLine: 4, start: START, durationMs: 2 * 60_000, noiseV: NOISE_V });
    const fit = fitVoltageModel(readings);
    expect(fit.lines).toEqual({});
    expect(fit.rows.L01).toMatchObject({ readings: readings.length, readingRows: 0 });
  });
});
