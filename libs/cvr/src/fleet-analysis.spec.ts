import { analyseFleet } from './fleet-analysis';
import { syntheticFleet } from './testing/synthetic-fleet';

const FACTORS = [0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1];

describe('analyseFleet on synthetic on/off days with known truth', () => {
  it('estimates each line’s CVR factor, with 90 % intervals that contain the truth about 90 % of the time', () => {
    let covered = 0;
    let lines = 0;
    let worstError = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const { figures, truth } = syntheticFleet({ lines: 8, days: 56, factors: FACTORS, reductionPct: 3, noise: 0.004, seed });
      const reports = analyseFleet(figures, { bootstrapReplicates: 50 });
      for (const report of reports) {
        const t = truth.find((x) => x.lineId === report.lineId)!;
        expect(report.factor.status).toBe('estimated');
        if (report.factor.status !== 'estimated') continue;
        expect(report.factor.weatherControl).toBe('fleet-load-index');
        // A day on which every other line ran reduced has no fleet load index and is left out.
        expect(report.factor.reducedDays + report.factor.normalDays).toBeGreaterThanOrEqual(52);
        worstError = Math.max(worstError, Math.abs(report.factor.factor - t.factor));
        if (report.factor.interval[0] <= t.factor && t.factor <= report.factor.interval[1]) covered++;
        lines++;
      }
    }
    expect(lines).toBe(96);
    expect(worstError).toBeLessThan(0.15);
    // 90 % nominal over 96 lines: the binomial 1st–99th percentiles are about 83 and 93.
    expect(covered / lines).toBeGreaterThan(0.82);
    expect(covered / lines).toBeLessThan(0.98);
  });

  it('measures kWh saved within a few per cent of the counterfactual, and a setpoint that keeps every meter above 114 V', () => {
    const { figures, truth } = syntheticFleet({ lines: 8, days: 56, factors: FACTORS, reductionPct: 3, noise: 0.003, seed: 99 });
    for (const report of analyseFleet(figures, { bootstrapReplicates: 200 })) {
      const t = truth.find((x) => x.lineId === report.lineId)!;
      expect(Math.abs(report.savings!.kwh - t.savedKwh) / t.savedKwh).toBeLessThan(0.2);
      expect(report.savings!.interval[0]).toBeLessThanOrEqual(report.savings!.kwh);
      expect(report.headroom.recommendedReductionV).toBeLessThanOrEqual(report.headroom.safeReductionV);
      expect(t.lowestNormalV - report.headroom.recommendedReductionV).toBeGreaterThanOrEqual(114 + 1);
      expect(report.projected!.annualKwh).toBeGreaterThan(0);
      expect(report.projected!.annualKwhInterval[0]).toBeLessThanOrEqual(report.projected!.annualKwh);
      expect(report.projected!.annualKwhInterval[1]).toBeGreaterThanOrEqual(report.projected!.annualKwh);
    }
  });

  it('refuses the factor with only normal days, saying what is missing', () => {
    const { figures } = syntheticFleet({ lines: 3, days: 30, factors: [0.8, 0.8, 0.8], reductionPct: 3, noise: 0.005, seed: 5, schedule: false });
    const [report] = analyseFleet(figures);
    expect(report.factor.status).toBe('refused');
    if (report.factor.status !== 'refused') return;
    expect(report.factor.reason).toMatch(/no reduced days/);
    expect(report.factor.reason).toMatch(/Run a CVR schedule/);
    expect(report.savings).toBeNull();
    expect(report.projected).toBeNull();
    // Headroom is still measured, from every day.
    expect(report.headroom.days).toBe(30);
  });

  it('refuses with too few on/off days and says how many more pairs are needed', () => {
    const { figures } = syntheticFleet({ lines: 8, days: 10, factors: FACTORS, reductionPct: 3, noise: 0.005, seed: 6 });
    for (const report of analyseFleet(figures, { bootstrapReplicates: 200 })) {
      expect(report.factor.status).toBe('refused');
      if (report.factor.status !== 'refused') continue;
      const { reducedDays, normalDays } = report.factor;
      expect(reducedDays).toBeGreaterThanOrEqual(3);
      expect(normalDays).toBeGreaterThanOrEqual(3);
      expect(report.factor.reason).toContain(`too few on/off days: ${reducedDays} reduced and ${normalDays} normal`);
      expect(report.factor.reason).toMatch(new RegExp(`at least 8 of each.*${8 - Math.min(reducedDays, normalDays)} more pair`));
    }
  });

  it('warns when the data never reaches the evening peak, and when the period is shorter than a season', () => {
    const { figures } = syntheticFleet({ lines: 2, days: 20, factors: [0.8, 0.8], reductionPct: 3, noise: 0.005, seed: 7, hours: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] });
    const [report] = analyseFleet(figures, { minHoursPerDay: 12 });
    expect(report.headroom.warnings.map((w) => w.kind)).toEqual(['evening-peak-missing', 'short-period']);
    expect(report.headroom.warnings[0].message).toMatch(/never reaches the evening peak \(17:00–22:00 local\)/);
    const whole = analyseFleet(syntheticFleet({ lines: 2, days: 20, factors: [0.8, 0.8], reductionPct: 3, noise: 0.005, seed: 7 }).figures)[0];
    expect(whole.headroom.warnings.map((w) => w.kind)).toEqual(['short-period']);
    // The evening hours are the binding ones, and with them the safe reduction shrinks.
    expect(whole.headroom.worstHour).toBe(19);
    expect(whole.headroom.safeReductionV).toBeLessThan(report.headroom.safeReductionV);
  });

  it('finds the bellwether: the meter at the end of the line binds in every hour', () => {
    const { figures } = syntheticFleet({ lines: 1, days: 20, factors: [0.8], reductionPct: 3, noise: 0.005, seed: 8 });
    const [report] = analyseFleet(figures, { bootstrapReplicates: 200 });
    expect(report.headroom.bellwethers[0]).toMatchObject({ deviceId: 'L01-m5', share: 1 });
    const hour19 = report.headroom.byHour.find((h) => h.hour === 19)!;
    expect(hour19.minV).toBeLessThanOrEqual(hour19.p1V);
    expect(hour19.p1V).toBeLessThanOrEqual(hour19.p5V);
    expect(hour19.headroomV - hour19.headroomAboveMarginV).toBeCloseTo(1, 9);
  });

  it('is deterministic: the same figures give the same reports', () => {
    const { figures } = syntheticFleet({ lines: 3, days: 24, factors: [0.5, 0.8, 1.0], reductionPct: 3, noise: 0.005, seed: 9 });
    expect(JSON.stringify(analyseFleet(figures, { bootstrapReplicates: 200 }))).toBe(JSON.stringify(analyseFleet(figures, { bootstrapReplicates: 200 })));
  });
});
