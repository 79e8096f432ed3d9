import { parseTimeParam, toIso } from './time';

describe('parseTimeParam', () => {
  it.each([
    ['1795928400000', Date.parse('2026-11-29T05:00:00.000Z')],
    ['0', 0],
    ['-1000', -1000],
    ['2026-11-29T05:00:00Z', Date.parse('2026-11-29T05:00:00.000Z')],
    ['2026-11-29T05:00:00.123Z', Date.parse('2026-11-29T05:00:00.123Z')],
    ['2026-11-29T05:00:00.123456789Z', Date.parse('2026-11-29T05:00:00.123Z')],
    ['2026-11-29T05:00Z', Date.parse('2026-11-29T05:00:00.000Z')],
    ['2026-11-29t05:00:00z', Date.parse('2026-11-29T05:00:00.000Z')],
    ['2026-11-29T10:30:00+05:30', Date.parse('2026-11-29T05:00:00.000Z')],
    ['2026-11-29T00:00:00-0500', Date.parse('2026-11-29T05:00:00.000Z')],
    // "+" decoded as a space by the query string parser
    ['2026-11-29T10:30:00 05:30', Date.parse('2026-11-29T05:00:00.000Z')],
    ['2026-11-29', Date.parse('2026-11-29T00:00:00.000Z')],
    ['2024-02-29', Date.parse('2024-02-29T00:00:00.000Z')],
    // Years below 100 are years, not 19xx: any RFC 3339 date-time the OpenAPI document allows is read.
    ['0050-06-01T00:00:00Z', Date.parse('0050-06-01T00:00:00.000Z')],
    ['0000-01-01', Date.parse('0000-01-01T00:00:00.000Z')],
    ['0001-01-01T00:30:00+01:00', Date.parse('0000-12-31T23:30:00.000Z')],
  ])('reads %s', (text, expected) => {
    expect(parseTimeParam(text)).toBe(expected);
  });

  it.each([
    'yesterday',
    '',
    '2026-11-29T05:00:00', // no zone: ambiguous
    '2026-02-30', // no such day
    '2025-02-29',
    '2026-13-01',
    '2026-11-29T24:00:00Z',
    '2026-11-29T05:60:00Z',
    '2026-11-29T05:00:00+25:00',
    'Nov 29 2026',
    '1795928400000.5',
    '99999999999999999',
    '1e12',
  ])('rejects %s', (text) => {
    expect(parseTimeParam(text)).toBeUndefined();
  });

  it('rejects anything that is not one string', () => {
    expect(parseTimeParam(['1', '2'])).toBeUndefined();
    expect(parseTimeParam(undefined)).toBeUndefined();
    expect(parseTimeParam(1795928400000)).toBeUndefined();
  });

  it('formats times as ISO-8601 UTC with milliseconds', () => {
    expect(toIso(1795928400000)).toBe('2026-11-29T05:00:00.000Z');
  });
});
