import { createAlertRules, resolveProcessorOptions, StreamTopology, type LineModelParameters, type ProcessorOptions } from '@meterstream/processing';
import { fitVoltageModel } from './batch-fit';
import { heldOutError } from './held-out';
import { HOUR, syntheticReadings } from './testing/synthetic-line';

const START = Date.parse('2026-03-02T10:00:00Z');
const PROCESSOR: ProcessorOptions = { windowSizeMs: 60_000, outOfOrdernessMs: 10_000, allowedLatenessMs: 0, idleTimeoutMs: Infinity };

describe('heldOutError', () => {
  const { readings } = syntheticReadings({ seed: 21, lines: 2, metersPerLine: 6, start: START, durationMs: 4 * HOUR, noiseV: 0.2 });
  const cut = START + 3 * HOUR;
  const train = readings.filter((r) => r.eventTime < cut);
  const heldOut = readings.filter((r) => r.eventTime >= cut);
  const fitted = fitVoltageModel(train).lines;

  /** The processor itself over the same readings: its topology and rules, observing each reading's a-priori residual. */
  function processorError(parameters: Record<string, LineModelParameters> | null): { sum: number; count: number } {
    const seen = { sum: 0, count: 0 };
    const rules = createAlertRules(resolveProcessorOptions(PROCESSOR), 'meterstream', {
      observeModel: (_reading, scored) => {
        seen.sum += Math.abs(scored.residual);
        seen.count++;
      },
    });
    const topology = new StreamTopology(PROCESSOR, undefined, rules);
    if (parameters !== null) topology.installModel({ version: 7, createdAt: '', trainedOn: { from: 0, to: 0 }, lines: parameters });
    for (const r of heldOut) topology.process('0', r, r.eventTime);
    return seen;
  }

  it('is exactly the error the processor would have had with the model installed', () => {
    const processor = processorError(fitted);
    const replay = heldOutError(fitted, heldOut);
    expect(replay.count).toBe(processor.count);
    expect(replay.mae).toBeCloseTo(processor.sum / processor.count, 12);
  });

  it('is exactly the error of a processor learning online from scratch, for null', () => {
    const processor = processorError(null);
    expect(heldOutError(null, heldOut).mae).toBeCloseTo(processor.sum / processor.count, 12);
  });

  it('reports every line, and the line windows against the baseline', () => {
    const result = heldOutError(fitted, heldOut);
    expect(Object.keys(result.lines)).toEqual(['L01', 'L02']);
    expect(result.lines.L01.count + result.lines.L02.count).toBe(heldOut.length);
    // One hour of one-minute windows per line.
    expect(result.windows).toBe(2 * 60);
    expect(result.baselineMae).toBeLessThan(0.1);
  });

  it('makes a model with wrong meter offsets pay for them', () => {
    const stale = Object.fromEntries(
      Object.entries(fitted).map(([lineId, p]) => [
        lineId,
        { ...p, meters: Object.fromEntries(Object.entries(p.meters).map(([id, [a, b]], i) => [id, [a + (i % 2 === 0 ? 1 : -1), b] as [number, number]])) },
      ]),
    );
    const good = heldOutError(fitted, heldOut);
    const bad = heldOutError(stale, heldOut);
    expect(bad.mae).toBeGreaterThan(good.mae + 0.1);
  });

  it('gives NaN and zero counts for no readings', () => {
    expect(heldOutError(fitted, [])).toMatchObject({ mae: NaN, count: 0, windows: 0, lines: {} });
  });
});
