import { EnergyDelta } from './energy-delta';

describe('EnergyDelta', () => {
  it('takes last minus first register value by event time, whatever the arrival order', () => {
    const energy = new EnergyDelta();
    energy.add('m-1', 3_000, 100.75);
    energy.add('m-1', 1_000, 100.25); // earlier event, later arrival: the new first
    energy.add('m-1', 2_000, 100.5);
    expect(energy.meterDelta('m-1')).toBe(0.5);
    expect(energy.total()).toBe(0.5);
  });

  it('sums the meters and gives 0 for a meter with a single reading (it only marks the start)', () => {
    const energy = new EnergyDelta();
    energy.add('m-2', 1_000, 500);
    energy.add('m-1', 1_000, 10);
    energy.add('m-1', 5_000, 12.5);
    expect(energy.meterDelta('m-2')).toBe(0);
    expect(energy.meterDelta('m-1')).toBe(2.5);
    expect(energy.total()).toBe(2.5);
    expect(energy.meterDelta('m-3')).toBeUndefined();
  });

  it('counts a register that went backwards (meter replaced or reset) as 0, not negative', () => {
    const energy = new EnergyDelta();
    energy.add('m-1', 1_000, 9_000);
    energy.add('m-1', 2_000, 3); // reset
    energy.add('m-2', 1_000, 1);
    energy.add('m-2', 2_000, 4);
    expect(energy.meterDelta('m-1')).toBe(0);
    expect(energy.total()).toBe(3);
  });

  it('gives an identical total for any arrival order of the meters', () => {
    const readings: Array<[string, number, number]> = [
      ['m-1', 1_000, 0.1],
      ['m-1', 2_000, 0.4],
      ['m-2', 1_000, 7.7],
      ['m-2', 2_000, 7.9],
      ['m-3', 1_000, 1e6],
      ['m-3', 2_000, 1e6 + 0.3],
    ];
    const forward = new EnergyDelta();
    const backward = new EnergyDelta();
    for (const r of readings) forward.add(...r);
    for (const r of [...readings].reverse()) backward.add(...r);
    expect(backward.total()).toBe(forward.total());
  });

  it('continues identically after a JSON round trip of its snapshot', () => {
    const whole = new EnergyDelta();
    const head = new EnergyDelta();
    const readings: Array<[string, number, number]> = [
      ['m-1', 2_000, 5],
      ['m-2', 1_000, 40],
      ['m-1', 1_000, 4],
      ['m-2', 3_000, 41.5],
      ['m-1', 4_000, 6.25],
    ];
    readings.forEach((r, i) => {
      whole.add(...r);
      if (i < 3) head.add(...r);
    });
    const resumed = EnergyDelta.restore(JSON.parse(JSON.stringify(head.snapshot())));
    for (const r of readings.slice(3)) resumed.add(...r);
    expect(resumed.snapshot()).toEqual(whole.snapshot());
    expect(resumed.total()).toBe(3.75);
    expect(resumed.meterDelta('m-2')).toBe(1.5);
  });
});
