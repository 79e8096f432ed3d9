import { WindowAssigner } from './window-assigner';

describe('WindowAssigner', () => {
  it('assigns one epoch-aligned window per event for tumbling windows', () => {
    const tumbling = new WindowAssigner(60_000, 60_000);
    expect(tumbling.windowsPerEvent).toBe(1);
    expect(tumbling.windowStarts(0)).toEqual([0]);
    expect(tumbling.windowStarts(59_999)).toEqual([0]);
    expect(tumbling.windowStarts(60_000)).toEqual([60_000]);
    expect(tumbling.firstWindowEnd(125_000)).toBe(180_000);
  });

  it('assigns size/hop overlapping windows for hopping windows, earliest first', () => {
    const hopping = new WindowAssigner(60_000, 20_000);
    expect(hopping.windowsPerEvent).toBe(3);
    // t = 65 s lies in [20,80), [40,100), [60,120)
    expect(hopping.windowStarts(65_000)).toEqual([20_000, 40_000, 60_000]);
    expect(hopping.firstWindowStart(65_000)).toBe(20_000);
    expect(hopping.firstWindowEnd(65_000)).toBe(80_000);
    expect(hopping.paneStart(65_000)).toBe(60_000);
    for (const start of hopping.windowStarts(65_000)) {
      expect(start).toBeLessThanOrEqual(65_000);
      expect(start + 60_000).toBeGreaterThan(65_000);
    }
  });

  it('floors negative event times (before the epoch) to the window below', () => {
    const tumbling = new WindowAssigner(1_000, 1_000);
    expect(tumbling.windowStarts(-1)).toEqual([-1_000]);
    expect(tumbling.windowStarts(-1_000)).toEqual([-1_000]);
  });
});
