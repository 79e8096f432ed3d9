import { generateRun } from '../generation/generate-messages';
import { zipFactor, zipForFactor, zipPowerRatio } from './zip-load';

const START = Date.parse('2026-06-01T07:00:00Z'); // local midnight in Los Angeles (PDT)
const DAY_MS = 86_400_000;

describe('CVR physics in the simulator', () => {
  it('builds ZIP loads whose elasticity at the normal voltage is the configured factor', () => {
    for (const f of [0.4, 0.75, 1.1]) {
      const zip = zipForFactor(f);
      expect(zip.z + zip.i + zip.p).toBeCloseTo(1, 12);
      expect(zipFactor(zip)).toBeCloseTo(f, 12);
      const h = 1e-6;
      expect((Math.log(zipPowerRatio(zip, 1 + h)) - Math.log(zipPowerRatio(zip, 1 - h))) / (2 * h)).toBeCloseTo(f, 6);
    }
    expect(() => zipForFactor(2)).toThrow(/0–1.7/);
  });

  it('runs a randomised block schedule per line at local midnight, lowers the head 2–4 % on reduced days, and records the counterfactual saving', () => {
    const { messages, cvr } = generateRun({ seed: 5, lines: 4, metersPerLine: 5, intervalMs: 900_000, start: START, durationMs: 8 * DAY_MS, faults: 'none', cvr: { timeZone: 'America/Los_Angeles' } });
    const voltage = new Map<string, { sum: number; n: number; min: number }>(); // line|day → mean
    for (const m of messages) {
      const r = JSON.parse(m.payload.toString()) as { lineId: string; ts: string; voltage: number };
      const day = cvr!.calendar.at(Date.parse(r.ts)).day;
      const key = `${r.lineId}|${day}`;
      const v = voltage.get(key) ?? { sum: 0, n: 0, min: Infinity };
      v.sum += r.voltage;
      v.n++;
      v.min = Math.min(v.min, r.voltage);
      voltage.set(key, v);
    }
    const truth = cvr!.truth();
    expect(truth.lines.map((l) => l.trueFactor).sort()).toEqual([0.4, 0.633, 0.867, 1.1]);
    for (const line of truth.lines) {
      expect(line.reductionPct).toBeGreaterThanOrEqual(2);
      expect(line.reductionPct).toBeLessThanOrEqual(4);
      expect(line.reducedDays).toHaveLength(4);
      expect(line.normalDays).toHaveLength(4);
      const days = [...line.reducedDays, ...line.normalDays].sort();
      expect(days[0]).toBe('2026-06-01');
      // One reduced day in each pair of local days.
      for (let pair = 0; pair < 4; pair++) expect(line.reducedDays.filter((d) => d === days[2 * pair] || d === days[2 * pair + 1])).toHaveLength(1);
      // Reduced days' mean voltage is lower by about the reduction; nothing leaves Range A.
      const mean = (days: string[]) => days.reduce((s, d) => s + voltage.get(`${line.lineId}|${d}`)!.sum / voltage.get(`${line.lineId}|${d}`)!.n, 0) / days.length;
      expect(mean(line.normalDays) - mean(line.reducedDays)).toBeGreaterThan(line.reductionV * 0.8);
      for (const d of days) expect(voltage.get(`${line.lineId}|${d}`)!.min).toBeGreaterThanOrEqual(114);
      // The saving is what the reduced days would have used at the normal setpoint, less what they used.
      expect(line.savedKwh).toBeCloseTo(line.counterfactualKwh - line.reducedDaysKwh, 6);
      const expectedShare = 1 - zipPowerRatio(line.zip, 1 - line.reductionV / 120);
      expect(line.savedKwh / line.counterfactualKwh).toBeGreaterThan(expectedShare * 0.85);
      expect(line.savedKwh / line.counterfactualKwh).toBeLessThan(expectedShare * 1.15);
    }
  });
});
