import { CvrDailyAccumulator } from './daily-figures';

const T0 = Date.parse('2026-06-01T00:00:00Z');
const MIN = 60_000;

describe('CvrDailyAccumulator', () => {
  it('keeps each meter’s hourly minimum and each line’s daily energy from register deltas', () => {
    const acc = new CvrDailyAccumulator('UTC');
    // Two meters, a reading every 15 min for two hours; register +0.5 kWh per interval.
    for (let i = 0; i <= 8; i++) {
      for (const [deviceId, base] of [['m1', 120], ['m2', 118]] as const) {
        acc.add({ lineId: 'L1', deviceId, eventTime: T0 + i * 15 * MIN, voltage: base - (i % 4) * 0.1, kw: 2, kwh: 100 + 0.5 * i });
      }
    }
    const { lineDays, meterHours } = acc.figures();
    expect(lineDays).toHaveLength(1);
    expect(lineDays[0]).toMatchObject({ lineId: 'L1', day: '2026-06-01', meters: 2, hours: 3, energySource: 'kwh-register' });
    expect(lineDays[0].energyKwh).toBeCloseTo(2 * 8 * 0.5, 9);
    expect(meterHours.filter((m) => m.deviceId === 'm2' && m.hour === 0)[0].minVoltage).toBeCloseTo(117.7, 9);
    expect(meterHours.map((m) => `${m.deviceId}:${m.hour}`)).toEqual(['m1:0', 'm1:1', 'm1:2', 'm2:0', 'm2:1', 'm2:2']);
  });

  it('falls back to kW integrated over the reading intervals without a register, and counts a register going backwards as 0', () => {
    const noRegister = new CvrDailyAccumulator();
    for (let i = 0; i <= 4; i++) noRegister.add({ lineId: 'L1', deviceId: 'm1', eventTime: T0 + i * 15 * MIN, voltage: 120, kw: 4 });
    expect(noRegister.figures().lineDays[0]).toMatchObject({ energySource: 'kw-mean', energyKwh: 4 });

    const replaced = new CvrDailyAccumulator();
    replaced.add({ lineId: 'L1', deviceId: 'm1', eventTime: T0, voltage: 120, kwh: 500 });
    replaced.add({ lineId: 'L1', deviceId: 'm1', eventTime: T0 + 15 * MIN, voltage: 120, kwh: 3 });
    replaced.add({ lineId: 'L1', deviceId: 'm1', eventTime: T0 + 30 * MIN, voltage: 120, kwh: 4 });
    expect(replaced.figures().lineDays[0].energyKwh).toBe(1);
  });

  it('puts readings on the utility’s local days', () => {
    const acc = new CvrDailyAccumulator('America/Los_Angeles');
    acc.add({ lineId: 'L1', deviceId: 'm1', eventTime: Date.parse('2026-06-02T06:59:00Z'), voltage: 120 }); // 23:59 PDT on the 1st
    acc.add({ lineId: 'L1', deviceId: 'm1', eventTime: Date.parse('2026-06-02T07:00:00Z'), voltage: 121 }); // 00:00 PDT on the 2nd
    expect(acc.figures().lineDays.map((d) => d.day)).toEqual(['2026-06-01', '2026-06-02']);
    expect(acc.figures().meterHours.map((m) => m.hour)).toEqual([23, 0]);
  });
});
