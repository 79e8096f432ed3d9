import type { AlertChannel } from './alert-channel';
import { defaultBurst, RateLimitedAlertChannel } from './rate-limited-channel';
import { alertFixture, VirtualClock } from './testing/alert-fixtures';
import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('lets a burst through at once, then one take per 60/rate seconds', async () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket({ ratePerMinute: 6, burst: 3, clock });
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      await bucket.take();
      times.push(clock.now());
    }
    expect(times).toEqual([0, 0, 0, 10_000, 20_000, 30_000, 40_000]);
  });

  it('refills while idle, but never beyond the burst', async () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket({ ratePerMinute: 60, burst: 2, clock });
    expect(bucket.tryTake() && bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.msUntilToken()).toBe(1000);
    await clock.sleep(60 * 60_000);
    expect(bucket.tokens()).toBe(2);
  });

  it('keeps exact spacing for a rate that does not divide a minute', async () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket({ ratePerMinute: 7, burst: 2, clock });
    const times: number[] = [];
    for (let i = 0; i < 9; i++) {
      await bucket.take();
      times.push(clock.now());
    }
    // The burst at 0, then the k-th further take at k × 60/7 s rounded up to the ms: the waits do
    // not accumulate rounding, and never more than 2 + 7t takes happen in t minutes.
    expect(times).toEqual([0, ...Array.from({ length: 8 }, (_, k) => Math.ceil((k * 60_000) / 7))]);
  });

  it('serves concurrent takers first come first served', async () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket({ ratePerMinute: 60, burst: 1, clock });
    const order: string[] = [];
    await Promise.all(['a', 'b', 'c'].map((name) => bucket.take().then(() => order.push(`${name}@${clock.now()}`))));
    expect(order).toEqual(['a@0', 'b@1000', 'c@2000']);
  });

  it('rejects a take whose signal aborts, and the next caller still gets its turn', async () => {
    const clock = new VirtualClock(0);
    const bucket = new TokenBucket({ ratePerMinute: 60, burst: 1, clock });
    await bucket.take();
    const aborted = new AbortController();
    aborted.abort(new Error('closed'));
    await expect(bucket.take(aborted.signal)).rejects.toThrow('closed');
    await expect(bucket.take()).resolves.toBeUndefined();
  });

  it('rejects a meaningless configuration', () => {
    expect(() => new TokenBucket({ ratePerMinute: 0, burst: 1 })).toThrow(/ratePerMinute/);
    expect(() => new TokenBucket({ ratePerMinute: 10, burst: 0 })).toThrow(/burst/);
  });
});

describe('RateLimitedAlertChannel', () => {
  it('delays deliveries over the limit and drops none; the default burst is ten seconds of the rate', async () => {
    const clock = new VirtualClock(0);
    const delivered: [string, number][] = [];
    const recording: AlertChannel = { name: 'webhook', deliver: async (alert) => void delivered.push([alert.id, clock.now()]), close: async () => undefined };
    const channel = new RateLimitedAlertChannel(recording, { ratePerMinute: 30, clock });
    expect(channel.name).toBe('webhook');
    expect(channel.bucket.burst).toBe(defaultBurst(30));
    expect(defaultBurst(30)).toBe(5);
    expect(defaultBurst(1)).toBe(1);
    const alerts = Array.from({ length: 8 }, (_, i) => alertFixture('L07', i));
    for (const alert of alerts) await channel.deliver(alert);
    expect(delivered).toEqual(alerts.map((a, i) => [a.id, [0, 0, 0, 0, 0, 2000, 4000, 6000][i]]));
  });
});
