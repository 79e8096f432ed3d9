import { CvrHourAccumulator, dailyFigures } from '@meterstream/cvr';
import { baseOptions, MINUTE, reading, T0 } from './testing/fixtures';
import { StreamTopology } from './topology';

const HOUR = 60 * MINUTE;

/** Three meters every 5 minutes for `hours` hours from T0 (05:00Z), register +0.1 kWh a reading. */
function readings(hours: number) {
  const out: ReturnType<typeof reading>[] = [];
  for (let t = T0; t < T0 + hours * HOUR; t += 5 * MINUTE) {
    for (const [i, device] of ['m-1', 'm-2', 'm-3'].entries()) {
      const n = (t - T0) / (5 * MINUTE);
      out.push(reading({ device, t, v: 121 - i - (n % 12) * 0.1, kw: 1.2, kwh: 1000 + i * 100 + n * 0.1 }));
    }
  }
  return out;
}

describe('StreamTopology CVR hours', () => {
  it('emits each line-hour once its watermark has passed it, equal to the figures of a batch over the same readings, and keeps the open hour in its snapshot', () => {
    const input = readings(3);
    const topology = new StreamTopology(baseOptions);
    const emitted = [];
    let restoredFrom = topology;
    for (const [i, r] of input.entries()) {
      restoredFrom.process('p0', r, 0);
      emitted.push(...restoredFrom.takeOutput().cvrHours);
      // Half way, continue from a JSON round trip of the snapshot, as a restarted processor would.
      if (i === Math.floor(input.length / 2)) restoredFrom = new StreamTopology(baseOptions, JSON.parse(JSON.stringify(restoredFrom.snapshot())));
    }
    // The third hour is still open (the watermark is inside it).
    expect(emitted.map((h) => h.hourStart)).toEqual([T0, T0 + HOUR]);

    const batch = new CvrHourAccumulator();
    for (const r of input) batch.add({ lineId: r.lineId, deviceId: r.deviceId!, eventTime: r.eventTime, voltage: r.body.voltage, kw: r.body.kw, kwh: r.body.kwh });
    const expected = batch.closeAll();
    expect(emitted).toEqual(expected.slice(0, 2));
    expect(emitted[1]).toMatchObject({ id: `cvrh:L01:${T0 + HOUR}`, lineId: 'L01', readings: 36, registerIntervals: 36 });
    expect(emitted[1].registerKwh).toBeCloseTo(3.6, 9);
    expect(emitted[1].meterMinima).toEqual([['m-1', 119.9], ['m-2', 118.9], ['m-3', 117.9]]);

    // What the analysis reads back: a local day with its energy and the meters' hourly minima.
    const daily = dailyFigures(emitted, 'America/Los_Angeles');
    expect(daily.lineDays).toEqual([expect.objectContaining({ lineId: 'L01', day: '2026-11-28', hours: 2, meters: 3, energySource: 'kwh-register' })]);
    expect(daily.meterHours.map((m) => `${m.deviceId}@${m.hour}`)).toEqual(['m-1@21', 'm-1@22', 'm-2@21', 'm-2@22', 'm-3@21', 'm-3@22']);
  });

  it('leaves late readings out, as the windows do', () => {
    const topology = new StreamTopology(baseOptions);
    for (const r of readings(2)) topology.process('p0', r, 0);
    const before = topology.takeOutput().cvrHours;
    expect(before.map((h) => h.hourStart)).toEqual([T0]);
    topology.process('p0', reading({ device: 'm-1', t: T0 + 10 * MINUTE + 7, v: 100 }), 0);
    const after = topology.takeOutput();
    expect(after.late).toHaveLength(1);
    expect(after.cvrHours).toEqual([]);
  });
});
