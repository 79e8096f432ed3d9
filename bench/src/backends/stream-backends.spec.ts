import { measureStreamBackends } from './stream-backends';

describe('measureStreamBackends on the embedded log', () => {
  it('appends the workload, processes it to the end and accounts for every reading in fired windows', async () => {
    const lines: string[] = [];
    const result = await measureStreamBackends(['embedded'], { lines: 3, metersPerLine: 4, intervals: 20, seed: 7, readingsPerMessage: 1 }, (l) => lines.push(l));
    expect(result.workload).toEqual({ readings: 240, records: 252, lines: 3, meters: 12, appendBatch: 2000 });
    const embedded = result.embedded!;
    expect(embedded.aggregated).toBe(240);
    expect(embedded.lost).toBe(0);
    expect(embedded.partitions).toBe(8);
    // 20 readings 15 s apart per meter: five one-minute windows per line, all fired by the closing readings (one per meter).
    expect(embedded.outputs.aggregates).toBe(15);
    expect(embedded.produce.readingsPerSec).toBeGreaterThan(0);
    expect(embedded.consume.readingsPerSec).toBeGreaterThan(0);
    expect(result.ratioToEmbedded).toEqual({});
    expect(lines.some((l) => l.startsWith('embedded: end to end'))).toBe(true);
  });
});
