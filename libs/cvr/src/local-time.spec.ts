import { LocalCalendar } from './local-time';

describe('LocalCalendar', () => {
  it('gives the local day, hour and weekday of a time zone, across a daylight-saving change', () => {
    const la = new LocalCalendar('America/Los_Angeles');
    // 2026-03-08 02:00 PST → 03:00 PDT. 09:30Z is 01:30 PST; 10:30Z is 03:30 PDT.
    expect(la.at(Date.parse('2026-03-08T09:30:00Z'))).toEqual({ day: '2026-03-08', hour: 1, weekday: 0, offsetMs: -8 * 3_600_000 });
    expect(la.at(Date.parse('2026-03-08T10:30:00Z'))).toEqual({ day: '2026-03-08', hour: 3, weekday: 0, offsetMs: -7 * 3_600_000 });
    // 07:59Z on the 9th is still the 8th locally (PDT is UTC−7).
    expect(la.at(Date.parse('2026-03-09T06:59:00Z')).day).toBe('2026-03-08');
    expect(la.at(Date.parse('2026-03-09T07:00:00Z'))).toMatchObject({ day: '2026-03-09', hour: 0, weekday: 1 });
  });

  it('handles a zone offset by 45 minutes (every instant of a UTC quarter hour shares its local hour)', () => {
    const kathmandu = new LocalCalendar('Asia/Kathmandu'); // UTC+05:45
    expect(kathmandu.at(Date.parse('2026-01-01T18:14:59Z'))).toMatchObject({ day: '2026-01-01', hour: 23 });
    expect(kathmandu.at(Date.parse('2026-01-01T18:15:00Z'))).toMatchObject({ day: '2026-01-02', hour: 0, offsetMs: 345 * 60_000 });
  });

  it('refuses a name that is not a time zone, saying what is expected', () => {
    expect(() => new LocalCalendar('Pacific/Nowhere')).toThrow(/not an IANA time zone name/);
  });
});
