import { Pacer } from './pacer';

const REAL_START = 1_000_000;
const SIM_START = Date.parse('2026-11-30T00:00:00Z');

describe('Pacer', () => {
  it('sends everything at once at speed 0', () => {
    const pacer = new Pacer({ simStart: SIM_START, speed: 0, realStart: REAL_START });
    expect(pacer.sendAt(SIM_START + 3_600_000)).toBe(-Infinity);
  });

  it('maps simulated time to wall-clock time at the given speed', () => {
    const pacer = new Pacer({ simStart: SIM_START, speed: 60, realStart: REAL_START });
    expect(pacer.sendAt(SIM_START)).toBe(REAL_START);
    expect(pacer.sendAt(SIM_START + 60_000)).toBe(REAL_START + 1_000);
  });

  it('with catch-up-to-now, replays the past fast and then holds each message until its own time', () => {
    const now = Date.parse('2026-11-30T01:00:00Z');
    const pacer = new Pacer({ simStart: now - 3_600_000, speed: 60, catchUpToNow: true, realStart: now });
    // Half an hour into the past: paced at 60× (30 s after the start), well before its wall-clock time would hold it.
    expect(pacer.sendAt(now - 1_800_000)).toBe(now + 30_000);
    // A minute after the run caught up with the wall clock: real time, not 60×.
    expect(pacer.sendAt(now + 120_000)).toBe(now + 120_000);
  });

  it('caps the rate, allowing a short burst', () => {
    const pacer = new Pacer({ simStart: SIM_START, speed: 0, rate: 100, realStart: REAL_START });
    let now = REAL_START;
    const sendTimes: number[] = [];
    for (let i = 0; i < 200; i++) {
      now = Math.max(now, pacer.sendAt(SIM_START));
      sendTimes.push(now);
      pacer.sent(now);
    }
    // 200 messages at 100/s, of which a quarter of a second's worth go at once: ~1.75 s.
    expect(sendTimes[199] - sendTimes[0]).toBeGreaterThanOrEqual(1_700);
    expect(sendTimes[199] - sendTimes[0]).toBeLessThanOrEqual(2_000);
    expect(sendTimes[110] - sendTimes[100]).toBeCloseTo(100, 0);
  });

  it('rejects nonsense', () => {
    expect(() => new Pacer({ simStart: 0, speed: -1, realStart: 0 })).toThrow(/speed/);
    expect(() => new Pacer({ simStart: 0, speed: 1, rate: 0, realStart: 0 })).toThrow(/rate/);
  });
});
