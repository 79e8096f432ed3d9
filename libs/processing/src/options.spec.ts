import { AMI_HEAD_END_TIMING, resolveLineTiming, resolveProcessorOptions, type LineTimingRule, type ProcessorOptions } from './options';
import { baseOptions } from './testing/fixtures';

describe('per-line timing (lineTiming)', () => {
  const options = resolveProcessorOptions({
    ...baseOptions,
    lineTiming: [
      { match: 'HE1-*', ...AMI_HEAD_END_TIMING },
      { match: 'HE1-L07', outOfOrdernessMs: 1 }, // never reached: HE1-* comes first
      { match: 'L01', allowedLatenessMs: 5_000 },
      { match: '*', idleTimeoutMs: Infinity },
    ],
  });
  const global = { outOfOrdernessMs: 5_000, allowedLatenessMs: 0, idleTimeoutMs: 30_000 };

  it.each([
    ['HE1-L07', 'prefix; the first matching rule wins', { ...global, outOfOrdernessMs: 15 * 60_000, idleTimeoutMs: 20 * 60_000 }],
    ['HE1-', 'an empty rest still matches the prefix', { ...global, outOfOrdernessMs: 15 * 60_000, idleTimeoutMs: 20 * 60_000 }],
    ['L01', 'exact; fields left out come from the global options, not from later rules', { ...global, allowedLatenessMs: 5_000 }],
    ['L011', 'an exact match is not a prefix', { ...global, idleTimeoutMs: Infinity }],
    ['HE2-L01', '* alone matches every line', { ...global, idleTimeoutMs: Infinity }],
  ])('line %s: %s', (lineId, _why, timing) => {
    expect(resolveLineTiming(options, lineId)).toEqual(timing);
  });

  it('uses the global options for a line no rule matches', () => {
    expect(resolveLineTiming(resolveProcessorOptions({ ...baseOptions, lineTiming: [{ match: 'HE1-*', outOfOrdernessMs: 1 }] }), 'L02')).toEqual(global);
    expect(resolveLineTiming(resolveProcessorOptions(baseOptions), 'L02')).toEqual(global);
  });

  it.each<[string, LineTimingRule[], RegExp]>([
    ['an empty match', [{ match: '' }], /lineTiming\[0\]\.match must be a line id or a prefix ending in \*, got ""/],
    ['a * that does not end the match', [{ match: 'HE*-L01' }], /lineTiming\[0\]\.match .* got "HE\*-L01"/],
    ['two *', [{ match: 'L01' }, { match: 'HE**' }], /lineTiming\[1\]\.match/],
    ['a match that is not a string', [{ match: 7 as unknown as string }], /lineTiming\[0\]\.match .* got 7/],
    ['a negative out-of-orderness', [{ match: 'L01', outOfOrdernessMs: -1 }], /lineTiming\[0\]\.outOfOrdernessMs must be a finite number >= 0, got -1/],
    ['an infinite allowed lateness', [{ match: 'L01', allowedLatenessMs: Infinity }], /lineTiming\[0\]\.allowedLatenessMs must be a finite number/],
    ['a NaN idle timeout', [{ match: 'L01', idleTimeoutMs: NaN }], /lineTiming\[0\]\.idleTimeoutMs must be a number >= 0, got NaN/],
    ['a misspelt field', [{ match: 'L01', outOfOrderMs: 5 } as LineTimingRule], /lineTiming\[0\] has an unknown field outOfOrderMs/],
  ])('rejects %s', (_name, lineTiming, message) => {
    expect(() => resolveProcessorOptions({ ...baseOptions, lineTiming })).toThrow(message);
  });

  it('copies the rules, so changing the caller’s array later changes nothing', () => {
    const lineTiming: LineTimingRule[] = [{ match: 'L01', outOfOrdernessMs: 1 }];
    const resolved = resolveProcessorOptions({ ...baseOptions, lineTiming });
    lineTiming[0].outOfOrdernessMs = 2;
    expect(resolveLineTiming(resolved, 'L01').outOfOrdernessMs).toBe(1);
  });
});

describe('clock options', () => {
  it('defaults: 15 minutes ahead is rejected, 2 minutes is the meter-clock tolerance, meters stay active 2 hours', () => {
    expect(resolveProcessorOptions(baseOptions)).toMatchObject({ clockAheadLimitMs: 15 * 60_000, meterClockToleranceMs: 2 * 60_000, meterActiveMs: 2 * 60 * 60_000, lineTiming: [] });
  });

  it.each<[string, Partial<ProcessorOptions>, RegExp]>([
    ['an infinite out-of-orderness (watermarks go into snapshots)', { outOfOrdernessMs: Infinity }, /outOfOrdernessMs must be a finite number >= 0/],
    ['a negative clock-ahead limit', { clockAheadLimitMs: -1 }, /clockAheadLimitMs must be a number >= 0/],
    ['a zero meterActiveMs', { meterActiveMs: 0 }, /meterActiveMs must be a number > 0/],
  ])('rejects %s', (_name, change, message) => {
    expect(() => resolveProcessorOptions({ ...baseOptions, ...change })).toThrow(message);
  });

  it('accepts Infinity where it means "never"', () => {
    expect(() => resolveProcessorOptions({ ...baseOptions, idleTimeoutMs: Infinity, clockAheadLimitMs: Infinity, meterActiveMs: Infinity })).not.toThrow();
  });
});
