import * as path from 'node:path';
import { encodeEnvelope, STREAMS, type ReadingEnvelope } from '@meterstream/contracts';
import { FileModelRegistry } from '@meterstream/model-registry';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { makeTempDir } from '@meterstream/test-harness';
import { retrain, RetrainError, type RetrainProgress } from './retrain';
import { HOUR, syntheticReadings } from './testing/synthetic-line';

const START = Date.parse('2026-03-02T10:00:00Z');

describe('retrain', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let log: EmbeddedStreamLog;
  let registry: FileModelRegistry;
  const { readings } = syntheticReadings({ seed: 31, lines: 3, metersPerLine: 6, start: START, durationMs: 4 * HOUR, noiseV: 0.2 });
  const duplicates = readings.filter((_, i) => i % 97 === 0);

  beforeEach(async () => {
    temp = makeTempDir('meterstream-retrain-');
    log = EmbeddedStreamLog.open(path.join(temp.dir, 'meterstream.db'), { partitions: 4 });
    registry = new FileModelRegistry(path.join(temp.dir, 'models'));
    // In log order, as the bridge appends: shuffled across lines by partition, with redeliveries.
    const records = [...readings, ...duplicates].map((r) => ({ key: r.lineId, value: encodeEnvelope(r) }));
    for (let i = 0; i < records.length; i += 1000) await log.append(STREAMS.readings, records.slice(i, i + 1000));
  });
  afterEach(async () => {
    await log.close();
    temp.cleanup();
  });

  /** The fitted model with every meter's offset a volt off: what a running processor would have if it was fitted on another feeder. */
  function staleLines(lines: Record<string, { meters: Record<string, [number, number]> }>) {
    return Object.fromEntries(
      Object.entries(lines).map(([lineId, p]) => [
        lineId,
        { ...(p as object), meters: Object.fromEntries(Object.entries(p.meters).map(([id, [a, b]], i) => [id, [a + (i % 2 === 0 ? 1 : -1), b] as [number, number]])) },
      ]),
    ) as Parameters<typeof retrain>[0]['runningModel'];
  }

  it('reads the range from every partition, drops redeliveries, fits on the first 80 % and holds out the rest', async () => {
    const from = START + HOUR;
    const to = START + 4 * HOUR;
    const phases: RetrainProgress['phase'][] = [];
    const result = await retrain({ log, from, to, registry, runningModel: null, publish: false, onProgress: (p) => phases.push(p.phase) });
    const inRange = readings.filter((r) => r.eventTime >= from && r.eventTime < to);
    expect(result.readings).toBe(inRange.length);
    expect(result.duplicates).toBe(duplicates.filter((r) => r.eventTime >= from && r.eventTime < to).length);
    expect(result.lines).toBe(3);
    expect(result.meters).toBe(18);
    const last = inRange[inRange.length - 1].eventTime;
    const cut = from + Math.floor(0.8 * (last + 1 - from));
    expect(result.trainedOn).toEqual({ from, to: cut, readings: inRange.filter((r) => r.eventTime < cut).length });
    expect(result.heldOut).toEqual({ from: cut, to: last + 1, readings: inRange.filter((r) => r.eventTime >= cut).length });
    expect(result.model.trainedOn).toEqual({ from, to: cut });
    expect(result.perLine.map((l) => l.lineId)).toEqual(['L01', 'L02', 'L03']);
    expect(result.perLine.reduce((n, l) => n + l.heldOutReadings, 0)).toBe(result.heldOut.readings);
    expect(phases[0]).toBe('reading');
    expect(phases.slice(-3)).toEqual(['fitting', 'evaluating', 'done']);
    // Asked not to publish: nothing in the registry.
    expect(result.published).toBeUndefined();
    expect(registry.latestVersion()).toBe(0);
  });

  it('beats a stale running model and publishes the new one when asked', async () => {
    const first = await retrain({ log, from: START, to: START + 4 * HOUR, registry, runningModel: null, publish: false });
    const stale = staleLines(first.model.lines);
    const result = await retrain({ log, from: START, to: START + 4 * HOUR, registry, runningModel: stale, publish: true });
    expect(result.comparedWith).toBe('running-model');
    expect(result.newModelMae).toBeLessThan(0.2);
    expect(result.runningModelMae).toBeGreaterThan(result.newModelMae + 0.1);
    expect(result.improvement).toBeCloseTo(result.runningModelMae - result.newModelMae, 12);
    expect(result.verdict).toBe('better');
    expect(result.published).toBe(1);
    const published = registry.load(1);
    expect(published.lines).toEqual(result.model.lines);
    expect(published.heldOutMae).toBe(result.newModelMae);
    expect(published.trainedOn).toEqual({ from: START, to: result.trainedOn.to });
  });

  it('does not publish a model that is no better than the running one, unless forced', async () => {
    const range = { from: START, to: START + 4 * HOUR };
    const first = await retrain({ log, ...range, registry, runningModel: null, publish: false });
    // Running exactly what the retrain fits: no improvement.
    const same = await retrain({ log, ...range, registry, runningModel: first.model.lines, publish: true });
    expect(same.verdict).toBe('equal');
    expect(same.published).toBeUndefined();
    expect(same.notPublished).toMatch(/no better than the running model .* publish it anyway with force/);
    expect(registry.latestVersion()).toBe(0);
    const forced = await retrain({ log, ...range, registry, runningModel: first.model.lines, publish: true, force: true });
    expect(forced.published).toBe(1);
  });

  it('refuses an empty range, a range without readings and a bad held-out fraction', async () => {
    const base = { log, registry, runningModel: null, publish: false };
    await expect(retrain({ ...base, from: START, to: START })).rejects.toThrow(RetrainError);
    await expect(retrain({ ...base, from: START, to: START })).rejects.toThrow(/empty range/);
    await expect(retrain({ ...base, from: START - 2 * HOUR, to: START })).rejects.toThrow(/no readings with event time in \[2026-03-02T08:00:00.000Z, 2026-03-02T10:00:00.000Z\)/);
    await expect(retrain({ ...base, from: START, to: START + HOUR, heldOutFraction: 1 })).rejects.toThrow(/held-out fraction/);
  });

  it('refuses readings that span too little time to hold any out', async () => {
    const one: ReadingEnvelope = readings[0];
    await expect(retrain({ log, registry, runningModel: null, publish: false, from: one.eventTime, to: one.eventTime + 1 })).rejects.toThrow(/span too little time/);
  });
});
