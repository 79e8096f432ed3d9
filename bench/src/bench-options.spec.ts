import { parseBackends, parseStages, ratiosToEmbedded, STAGES } from './bench-options';

describe('parseStages (--only)', () => {
  it('runs every stage when --only is absent', () => {
    expect([...parseStages(undefined)]).toEqual([...STAGES]);
  });

  it('keeps only the named stages', () => {
    expect([...parseStages('backends')]).toEqual(['backends']);
    expect([...parseStages(' core , backends ')]).toEqual(['core', 'backends']);
  });

  it('rejects unknown or empty stage lists, naming the valid ones', () => {
    expect(() => parseStages('core,kafka')).toThrow(/baseline, core, model, broker, direct, concentrator, backends/);
    expect(() => parseStages(' , ')).toThrow(/--only/);
  });
});

describe('parseBackends (--backends)', () => {
  it('always measures the embedded log first, since the others are reported as ratios to it', () => {
    expect(parseBackends('embedded')).toEqual(['embedded']);
    expect(parseBackends('kinesis,kafka')).toEqual(['embedded', 'kafka', 'kinesis']);
    expect(parseBackends('kafka,kafka')).toEqual(['embedded', 'kafka']);
  });

  it('rejects a backend it does not know', () => {
    expect(() => parseBackends('embedded,pulsar')).toThrow(/unknown: pulsar/);
  });
});

describe('ratiosToEmbedded', () => {
  it('divides each phase rate by the embedded one, to three decimals, and leaves embedded out', () => {
    const embedded = { produce: 200_000, consume: 50_000, endToEnd: 40_000 };
    expect(
      ratiosToEmbedded(embedded, {
        embedded,
        kafka: { produce: 40_000, consume: 25_000, endToEnd: 16_000 },
        kinesis: { produce: 7_000, consume: 12_000, endToEnd: 4_400 },
      }),
    ).toEqual({
      kafka: { produce: 0.2, consume: 0.5, endToEnd: 0.4 },
      kinesis: { produce: 0.035, consume: 0.24, endToEnd: 0.11 },
    });
  });
});
