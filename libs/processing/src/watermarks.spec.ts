import { PartitionWatermark } from './watermarks';

describe('PartitionWatermark', () => {
  it('is the max event time minus the out-of-orderness and never goes back', () => {
    const wm = new PartitionWatermark('p0', 5_000, 30_000, 100_000, 0);
    expect(wm.watermark).toBe(95_000);
    expect(wm.onEvent(110_000, 1)).toBe(true);
    expect(wm.watermark).toBe(105_000);
    expect(wm.onEvent(90_000, 2)).toBe(false); // out of order: no change
    expect(wm.watermark).toBe(105_000);
    expect(wm.maxEventTime).toBe(110_000);
  });

  it('follows processing time once idle for longer than the idle timeout', () => {
    const wm = new PartitionWatermark('p0', 5_000, 30_000, 100_000, 1_000);
    expect(wm.onProcessingTime(31_000)).toBe(false); // exactly the timeout: not yet idle
    expect(wm.watermark).toBe(95_000);
    expect(wm.onProcessingTime(41_000)).toBe(true); // idle for 10 s beyond the timeout
    expect(wm.watermark).toBe(105_000);
    expect(wm.onProcessingTime(41_000)).toBe(false);
    expect(wm.onProcessingTime(61_000)).toBe(true);
    expect(wm.watermark).toBe(125_000);
  });

  it('resumes from the idle-advanced watermark when events return', () => {
    const wm = new PartitionWatermark('p0', 5_000, 30_000, 100_000, 0);
    wm.onProcessingTime(50_000); // +20 s -> 115 000
    expect(wm.watermark).toBe(115_000);
    expect(wm.onEvent(101_000, 50_000)).toBe(false); // older than the advanced watermark
    expect(wm.watermark).toBe(115_000);
    expect(wm.onProcessingTime(60_000)).toBe(false); // active again: idle clock restarted
    expect(wm.onProcessingTime(90_000)).toBe(true); // idle 10 s past the timeout, from 115 000
    expect(wm.watermark).toBe(125_000);
  });

  it('never advances by processing time when the idle timeout is Infinity', () => {
    const wm = new PartitionWatermark('p0', 0, Infinity, 100_000, 0);
    expect(wm.onProcessingTime(1e12)).toBe(false);
    expect(wm.watermark).toBe(100_000);
  });

  it('round-trips through a JSON snapshot', () => {
    const wm = new PartitionWatermark('p7', 5_000, 30_000, 100_000, 0);
    wm.onEvent(120_000, 10);
    const restored = PartitionWatermark.restore(JSON.parse(JSON.stringify(wm.snapshot())), 5_000, 30_000);
    expect(restored.snapshot()).toEqual(wm.snapshot());
    expect(restored.onProcessingTime(60_000)).toBe(wm.onProcessingTime(60_000));
    expect(restored.watermark).toBe(wm.watermark);
  });
});
