import { baseOptions, messyWorkload, type Step } from './testing/fixtures';
import type { ProcessorOptions } from './options';
import type { ProcessorSnapshot } from './snapshot';
import type { ProcessorOutput } from './topology';
import { StreamTopology } from './topology';

function feed(topology: StreamTopology, steps: Step[]): Required<ProcessorOutput> {
  const all: Required<ProcessorOutput> = { aggregates: [], alerts: [], late: [], rejected: [], cvrHours: [] };
  for (const step of steps) {
    if (step.kind === 'tick') topology.advanceProcessingTime(step.now);
    else topology.process(step.partition, step.reading, step.now);
    const out = topology.takeOutput();
    all.aggregates.push(...out.aggregates);
    all.alerts.push(...out.alerts);
    all.late.push(...out.late);
    all.rejected.push(...out.rejected);
    all.cvrHours.push(...out.cvrHours);
  }
  return all;
}

const configurations: Array<[string, ProcessorOptions]> = [
  ['tumbling', { ...baseOptions, allowedLatenessMs: 5_000 }],
  ['hopping per meter', { ...baseOptions, hopMs: 20_000, perMeter: true, allowedLatenessMs: 2_000 }],
];

describe.each(configurations)('StreamTopology determinism (%s)', (_name, options) => {
  const steps = messyWorkload(42);

  it('exercises every path: aggregates, alerts, late readings, duplicates, idle firing', () => {
    const topology = new StreamTopology(options);
    const out = feed(topology, steps);
    const stats = topology.stats();
    expect(out.aggregates.length).toBeGreaterThanOrEqual(4 * 10 + 5); // 4 lines x 10 min, L03 5 min
    expect(out.alerts.map((a) => `${a.lineId} ${a.body.kind} ${a.body.state}`)).toEqual(['L02 voltage-low raised', 'L02 voltage-low cleared']);
    expect(out.late.length).toBeGreaterThan(0);
    expect(Object.values(stats.duplicateCounts).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(out.aggregates.some((a) => a.lineId === 'L03')).toBe(true);
    expect(stats.openWindows).toBe(0); // the trailing ticks fired everything, idle partitions included
    expect(stats.trackedIds).toBe(0);
    // every window fired exactly once
    expect(new Set(out.aggregates.map((a) => a.id)).size).toBe(out.aggregates.length);
    // percentiles and kWh energy, including L01-m1's register reset (a window whose delta is 0)
    expect(out.aggregates.some((a) => a.body.voltage.p5 < a.body.voltage.p95)).toBe(true);
    expect(out.aggregates.some((a) => (a.body.energyKwh ?? 0) > 0)).toBe(true);
    expect(out.aggregates.every((a) => (a.body.energyKwh ?? 0) >= 0)).toBe(true); // L01-m1's reset would be about −1000 kWh
  });

  it('gives deep-equal output for the same input twice', () => {
    const first = feed(new StreamTopology(options), steps);
    const second = feed(new StreamTopology(options), steps);
    expect(second).toEqual(first);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first)); // byte-identical, key order included
  });

  it('continues from a JSON round-tripped snapshot exactly as an uninterrupted run', () => {
    const uninterrupted = new StreamTopology(options);
    const expected = feed(uninterrupted, steps);
    // The last cut lies just before the last windows close: by idle lines on the ingest clock.
    for (const cut of [1, Math.floor(steps.length / 3), Math.floor(steps.length / 2), steps.length - 35]) {
      const before = new StreamTopology(options);
      const head = feed(before, steps.slice(0, cut));
      const snapshot = JSON.parse(JSON.stringify(before.snapshot())) as ProcessorSnapshot;
      if (cut > 1) {
        // mid-stream, open windows carry the state behind percentiles and energy
        expect(snapshot.openWindows.some((w) => w.stats.voltages.length > 1)).toBe(true);
        expect(snapshot.openWindows.some((w) => w.energy !== undefined && w.energy.meters.length > 1)).toBe(true);
      }
      const after = new StreamTopology(options, snapshot);
      expect(after.snapshot()).toEqual(snapshot); // restore loses nothing
      expect(after.stats()).toEqual(before.stats());
      const tail = feed(after, steps.slice(cut));
      expect({
        aggregates: [...head.aggregates, ...tail.aggregates],
        alerts: [...head.alerts, ...tail.alerts],
        late: [...head.late, ...tail.late],
        rejected: [...head.rejected, ...tail.rejected],
        cvrHours: [...head.cvrHours, ...tail.cvrHours],
      }).toEqual(expected);
      expect(after.stats()).toEqual(uninterrupted.stats());
    }
  });
});
