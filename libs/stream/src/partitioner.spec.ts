import { murmur2, partitionForKey } from './partitioner';

describe('partitioner', () => {
  it('matches the murmur2 values of Kafka’s own test suite', () => {
    // Values from Apache Kafka's UtilsTest.testMurmur2.
    expect(murmur2('21')).toBe(-973932308);
    expect(murmur2('foobar')).toBe(-790332482);
    expect(murmur2('a-little-bit-long-string')).toBe(-985981536);
    expect(murmur2('a-little-bit-longer-string')).toBe(-1486304829);
    expect(murmur2('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8')).toBe(-58897971);
    expect(murmur2('abc')).toBe(479470107);
  });

  it('spreads keys over every partition and keeps each key in one', () => {
    const seen = new Set<number>();
    for (let i = 1; i <= 200; i++) {
      const p = partitionForKey(`L${i}`, 8);
      expect(p).toBe(partitionForKey(`L${i}`, 8));
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(8);
      seen.add(p);
    }
    expect(seen.size).toBe(8);
  });
});
