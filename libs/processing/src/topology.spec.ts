import { aggregateId } from '@meterstream/contracts';
import { baseOptions, MINUTE, reading, T0 } from './testing/fixtures';
import { StreamTopology } from './topology';

/** One reading from each of `devices` at t: moves the line's clock (the lower median of its meters' newest readings) to t. */
function closers(t: number, devices: string[]) {
  return devices.map((device) => reading({ device, t, v: 120 }));
}

/** Feeds readings on one partition, returns the taken output. */
function run(topology: StreamTopology, readings: ReturnType<typeof reading>[], partition = 'p0') {
  readings.forEach((r, i) => topology.process(partition, r, i));
  return topology.takeOutput();
}

describe('StreamTopology windows', () => {
  it('emits the exact aggregate of a tumbling window', () => {
    const topology = new StreamTopology(baseOptions);
    const out = run(topology, [
      reading({ device: 'm-1', t: T0 + 1_000, v: 118, current: 8, kw: 1, kwh: 500.25, ingest: T0 + 1_100 }),
      reading({ device: 'm-2', t: T0 + 2_000, v: 120, kw: 2, kwh: 80, ingest: T0 + 9_000 }),
      reading({ device: 'm-1', t: T0 + 30_000, v: 122, current: 10, kwh: 500.75, ingest: T0 + 30_500 }),
      // Both meters' clocks pass T0 + 65 s: the line's watermark (lower median − 5 s) is T0 + 60 s and fires [T0, T0 + 60 s).
      ...closers(T0 + 65_000, ['m-1', 'm-2']),
    ]);
    expect(out.late).toEqual([]);
    expect(out.alerts).toEqual([]);
    expect(out.aggregates).toHaveLength(1);
    const [aggregate] = out.aggregates;
    expect(aggregate).toMatchObject({
      v: 1,
      type: 'aggregate',
      id: aggregateId('L01', T0, MINUTE),
      lineId: 'L01',
      deviceId: null,
      eventTime: T0,
      ingestTime: T0 + 30_500, // the highest ingest time among the window's readings
    });
    const { voltage, ...rest } = aggregate.body;
    expect(rest).toEqual({
      lineId: 'L01',
      windowStart: T0,
      windowEnd: T0 + MINUTE,
      count: 3,
      meters: 2,
      current: { mean: 9, max: 10 },
      kw: { mean: 1.5, max: 2 },
      energyKwh: 0.5, // m-1 500.25 → 500.75; m-2 has one reading, which only marks the start
    });
    expect(voltage.min).toBe(118);
    expect(voltage.max).toBe(122);
    expect([voltage.p5, voltage.p95]).toEqual([118, 122]); // n = 3: ranks ceil(0.15) = 1 and ceil(2.85) = 3
    expect(voltage.mean).toBeCloseTo(120, 12);
    expect(voltage.stddev).toBeCloseTo(Math.sqrt(8 / 3), 12);
  });

  it('omits current, kw and energyKwh when no reading in the window had them', () => {
    const topology = new StreamTopology(baseOptions);
    const out = run(topology, [reading({ t: T0, v: 120 }), reading({ t: T0 + 70_000, v: 120 })]);
    expect(out.aggregates).toHaveLength(1);
    expect(out.aggregates[0].body).not.toHaveProperty('current');
    expect(out.aggregates[0].body).not.toHaveProperty('kw');
    expect(out.aggregates[0].body).not.toHaveProperty('energyKwh');
  });

  it('gives nearest-rank voltage percentiles independent of arrival order', () => {
    // 40 values 100..139 from four meters; p5 = rank ceil(2) = 101, p95 = rank ceil(38) = 137.
    const values = Array.from({ length: 40 }, (_, i) => 100 + i);
    const readings = values.map((v, i) => reading({ device: `m-${i % 4}`, t: T0 + 1_000 * (i + 1), v }));
    const meters = ['m-0', 'm-1', 'm-2', 'm-3'];
    const inOrder = run(new StreamTopology(baseOptions), [...readings, ...closers(T0 + 70_000, meters)]);
    const shuffled = run(new StreamTopology({ ...baseOptions, outOfOrdernessMs: 60_000 }), [...readings].reverse().concat(closers(T0 + 130_000, meters)));
    expect(inOrder.aggregates[0].body.voltage).toMatchObject({ p5: 101, p95: 137 });
    expect(shuffled.aggregates[0].body.voltage).toEqual(inOrder.aggregates[0].body.voltage);
  });

  it('sums per-meter energy deltas by event time, counting a register that went backwards as 0', () => {
    const topology = new StreamTopology({ ...baseOptions, perMeter: true });
    const out = run(topology, [
      reading({ device: 'm-1', t: T0 + 40_000, v: 120, kwh: 1_000.5 }),
      reading({ device: 'm-1', t: T0 + 10_000, v: 120, kwh: 1_000 }), // out of order: still the first by event time
      reading({ device: 'm-2', t: T0 + 10_000, v: 120, kwh: 52_000 }),
      reading({ device: 'm-2', t: T0 + 50_000, v: 120, kwh: 0.25 }), // meter replaced: 0, not −51 999.75
      reading({ device: 'm-3', t: T0 + 20_000, v: 120 }), // no register
      ...closers(T0 + 70_000, ['m-1', 'm-2', 'm-3']),
    ]);
    expect(out.aggregates.map((a) => [a.deviceId, a.body.energyKwh])).toEqual([
      [null, 0.5],
      ['m-1', 0.5],
      ['m-2', 0],
      ['m-3', undefined],
    ]);
    expect(out.aggregates[3].body).not.toHaveProperty('energyKwh');
  });

  it('emits every hopping window an event belongs to', () => {
    const topology = new StreamTopology({ ...baseOptions, hopMs: 20_000 });
    const out = run(topology, [
      reading({ t: T0 + 10_000, v: 110 }),
      reading({ t: T0 + 30_000, v: 120 }),
      reading({ t: T0 + 50_000, v: 130 }),
      reading({ t: T0 + 105_000, v: 120 }), // watermark T0 + 100 s
    ]);
    expect(out.aggregates.map((a) => [a.lineId, a.body.windowStart - T0, a.body.windowEnd - T0, a.body.count, a.body.voltage.mean])).toEqual([
      ['L01', -40_000, 20_000, 1, 110],
      ['L01', -20_000, 40_000, 2, 115],
      ['L01', 0, 60_000, 3, 120],
      ['L01', 20_000, 80_000, 2, 125],
      ['L01', 40_000, 100_000, 1, 130],
    ]);
    expect(out.aggregates[2].id).toBe(aggregateId('L01', T0, MINUTE));
  });

  it('adds per-meter aggregates after the line aggregate, ordered by deviceId', () => {
    const topology = new StreamTopology({ ...baseOptions, perMeter: true });
    const out = run(topology, [
      reading({ device: 'm-2', t: T0 + 1_000, v: 119 }),
      reading({ device: 'm-1', t: T0 + 2_000, v: 121, current: 4 }),
      reading({ device: 'm-2', t: T0 + 3_000, v: 123 }),
      ...closers(T0 + 70_000, ['m-2', 'm-1']),
    ]);
    expect(out.aggregates.map((a) => [a.id, a.deviceId, a.body.deviceId, a.body.count, a.body.meters, a.body.voltage.mean])).toEqual([
      [aggregateId('L01', T0, MINUTE), null, undefined, 3, 2, 121],
      [aggregateId('L01/m-1', T0, MINUTE), 'm-1', 'm-1', 1, 1, 121],
      [aggregateId('L01/m-2', T0, MINUTE), 'm-2', 'm-2', 2, 1, 121],
    ]);
    expect(out.aggregates[1].body.current).toEqual({ mean: 4, max: 4 });
    expect(out.aggregates[2].body.current).toBeUndefined();
    expect(out.aggregates[2].body.voltage.stddev).toBeCloseTo(2, 12);
  });

  it('fires a window only once the watermark reaches end + allowed lateness, exactly once', () => {
    const topology = new StreamTopology({ ...baseOptions, allowedLatenessMs: 10_000 });
    topology.process('p0', reading({ t: T0 + 1_000, v: 120 }), 0);
    topology.process('p0', reading({ t: T0 + 74_999, v: 120 }), 1); // watermark end + lateness - 1
    expect(topology.takeOutput().aggregates).toEqual([]);
    topology.process('p0', reading({ t: T0 + 75_000, v: 120 }), 2); // watermark = end + lateness
    expect(topology.takeOutput().aggregates.map((a) => a.body.windowStart)).toEqual([T0]);
    topology.process('p0', reading({ t: T0 + 90_000, v: 120 }), 3);
    topology.advanceProcessingTime(4);
    expect(topology.takeOutput().aggregates).toEqual([]);
  });

  it('merges out-of-order events within the bound and sends later ones to the late side output', () => {
    const topology = new StreamTopology(baseOptions); // out-of-orderness 5 s, lateness 0
    const beyond = reading({ device: 'm-9', t: T0 + 59_500, v: 99 });
    const out = run(topology, [
      reading({ t: T0 + 58_000, v: 118 }),
      reading({ t: T0 + 62_000, v: 125 }), // watermark T0 + 57 s
      reading({ t: T0 + 59_000, v: 120 }), // out of order by 3 s: merged into [T0, T0 + 60 s)
      reading({ t: T0 + 66_000, v: 125 }), // watermark T0 + 61 s: fires
      beyond, // its window fired: late
    ]);
    expect(out.aggregates).toHaveLength(1);
    expect(out.aggregates[0].body).toMatchObject({ windowStart: T0, count: 2, meters: 1, voltage: { min: 118, max: 120, mean: 119 } });
    expect(out.late).toEqual([beyond]);
    expect(topology.stats().lateCounts).toEqual({ L01: 1 });
  });

  it('judges an event as late if it would fire immediately given the current watermark', () => {
    const topology = new StreamTopology(baseOptions);
    // Only a reading of another meter whose window does not cover T0: the T0 window was never opened.
    topology.process('p0', reading({ device: 'm-2', t: T0 + 3 * MINUTE, v: 120 }), 0);
    const stale = reading({ t: T0 + 1_000, v: 120, ingest: T0 + 3 * MINUTE + 600 });
    topology.process('p0', stale, 1);
    const out = topology.takeOutput();
    expect(out.late).toEqual([stale]);
    expect(out.aggregates).toEqual([]);
    expect(topology.stats().lateCounts).toEqual({ L01: 1 });
  });

  it('merges late-but-within-lateness events into a window that has not fired yet', () => {
    const topology = new StreamTopology({ ...baseOptions, allowedLatenessMs: 10_000 });
    const out = run(topology, [
      reading({ t: T0 + 1_000, v: 120 }),
      reading({ t: T0 + 70_000, v: 120 }), // watermark T0 + 65 s, past the end but within lateness
      reading({ device: 'm-2', t: T0 + 50_000, v: 110 }),
      ...closers(T0 + 80_000, ['m-1', 'm-2']), // watermark T0 + 75 s: fires
    ]);
    expect(out.late).toEqual([]);
    expect(out.aggregates[0].body).toMatchObject({ count: 2, meters: 2, voltage: { min: 110 } });
  });

  it('counts duplicates once and does not aggregate them twice', () => {
    const topology = new StreamTopology(baseOptions);
    const original = reading({ t: T0 + 1_000, v: 118 });
    const redelivered = { ...original, ingestTime: original.ingestTime + 60_000 };
    const out = run(topology, [original, reading({ t: T0 + 2_000, v: 122 }), redelivered, original, reading({ t: T0 + 70_000, v: 120 })]);
    expect(out.aggregates[0].body).toMatchObject({ count: 2, voltage: { mean: 120 } });
    expect(out.aggregates[0].ingestTime).toBe(T0 + 2_500); // the redelivery's ingest time was not merged
    expect(topology.stats().duplicateCounts).toEqual({ L01: 2 });
    expect(out.late).toEqual([]);
  });

  it('recognises a duplicate across hopping windows exactly once', () => {
    const topology = new StreamTopology({ ...baseOptions, hopMs: 20_000 });
    const original = reading({ t: T0 + 45_000, v: 118 });
    const out = run(topology, [original, original, reading({ t: T0 + 200_000, v: 120 })]);
    expect(out.aggregates.map((a) => a.body.count)).toEqual([1, 1, 1]);
    expect(topology.stats().duplicateCounts.L01).toBe(1);
  });

  it('treats a duplicate of an event whose window already fired as late (ids are not kept past firing)', () => {
    const topology = new StreamTopology(baseOptions);
    const original = reading({ t: T0 + 1_000, v: 118 });
    const out = run(topology, [original, reading({ t: T0 + 70_000, v: 120 }), original]);
    expect(out.late).toEqual([original]);
    expect(topology.stats()).toMatchObject({ lateCounts: { L01: 1 }, duplicateCounts: { L01: 0 } });
  });

  it('orders windows fired together by (windowEnd, lineId) regardless of arrival order', () => {
    const topology = new StreamTopology(baseOptions);
    const out = run(topology, [
      reading({ line: 'L09', t: T0 + 1_000, v: 120 }),
      reading({ line: 'L02', t: T0 + 61_000, v: 120 }),
      reading({ line: 'L01', t: T0 + 2_000, v: 120 }),
      reading({ line: 'L02', t: T0 + 3_000, v: 120 }),
      reading({ line: 'L09', t: T0 + 62_000, v: 120 }),
      // Its ingest time makes the other lines idle: their windows fire together, at this reading.
      reading({ line: 'L03', t: T0 + 200_000, v: 120 }),
    ]);
    expect(out.aggregates.map((a) => `${a.lineId}@${(a.body.windowStart - T0) / MINUTE}`)).toEqual(['L01@0', 'L02@0', 'L09@0', 'L02@1', 'L09@1']);
  });

  it('fires windows of a line only by its own watermark, also when lines share a partition', () => {
    const topology = new StreamTopology(baseOptions);
    // L01's collector delivers 10 minutes late, L02's live: same partition, same ingest time.
    topology.process('p0', reading({ line: 'L01', t: T0 + 1_000, v: 120, ingest: T0 + 10 * MINUTE }), 0);
    topology.process('p0', reading({ line: 'L02', t: T0 + 10 * MINUTE, v: 120 }), 1);
    expect(topology.takeOutput().aggregates).toEqual([]);
    expect(topology.stats().watermarks).toEqual({ L01: T0 + 1_000 - 5_000, L02: T0 + 10 * MINUTE - 5_000 });
  });
});

describe('StreamTopology idle lines (on the ingest clock)', () => {
  it('fires an idle line’s windows once the ingest clock has carried its watermark past them', () => {
    const topology = new StreamTopology(baseOptions); // idle timeout 30 s, out-of-orderness 5 s
    topology.process('p0', reading({ t: T0 + 10_000, v: 120, ingest: T0 + 11_000 }), 0); // watermark T0 + 5 s
    // The window end T0 + 60 s needs 55 s of idle advance: ingest clock >= T0 + 11 s + 30 s + 55 s.
    topology.advanceProcessingTime(T0 + 41_000);
    topology.advanceProcessingTime(T0 + 95_999);
    expect(topology.takeOutput().aggregates).toEqual([]);
    expect(topology.stats().watermarks.L01).toBe(T0 + 59_999);
    expect(topology.stats().lineClocks.L01.idle).toBe(true);
    topology.advanceProcessingTime(T0 + 96_000);
    const out = topology.takeOutput();
    expect(out.aggregates.map((a) => a.body.windowStart)).toEqual([T0]);
    expect(out.aggregates[0].ingestTime).toBe(T0 + 11_000); // from the input, not from the runtime's clock
  });

  it('moves a partition’s ingest clock by its other lines’ readings too: the same firing without any advanceProcessingTime', () => {
    const topology = new StreamTopology(baseOptions);
    topology.process('p0', reading({ t: T0 + 10_000, v: 120, ingest: T0 + 11_000 }), 0);
    topology.process('p0', reading({ line: 'L02', t: T0 + 95_000, v: 120, ingest: T0 + 95_999 }), 0);
    expect(topology.takeOutput().aggregates).toEqual([]);
    // A second on (idle lines are looked at once the clock moved 1 s): L01 idle for 56 s past its timeout.
    topology.process('p0', reading({ line: 'L02', t: T0 + 96_000, v: 120, ingest: T0 + 97_000 }), 0);
    expect(topology.takeOutput().aggregates.map((a) => [a.lineId, a.body.windowStart])).toEqual([['L01', T0]]);
  });

  it('does not let one partition’s ingest clock make another partition’s lines idle (a runtime reading one backlog ahead of another)', () => {
    // After a restart, one batch may hold minutes of p1's backlog before any of p0's.
    const topology = new StreamTopology(baseOptions);
    topology.process('p0', reading({ t: T0 + 10_000, v: 120, ingest: T0 + 11_000 }), 0);
    for (let dt = 0; dt < 10 * MINUTE; dt += 10_000) topology.process('p1', reading({ line: 'L02', t: T0 + dt, v: 120 }), 0);
    expect(topology.stats().watermarks.L01).toBe(T0 + 5_000);
    // p0's backlog: nothing late, although p1's clock is 10 minutes on.
    for (let dt = 20_000; dt < 10 * MINUTE; dt += 10_000) topology.process('p0', reading({ t: T0 + dt, v: 120 }), 0);
    expect(topology.takeOutput().late).toEqual([]);
    expect(topology.stats().ingestClocks).toEqual({ p0: T0 + 10 * MINUTE - 10_000 + 500, p1: T0 + 10 * MINUTE - 10_000 + 500 });
  });

  it('does not advance a line that keeps delivering, however old its readings, and fires idle lines in (end, line) order', () => {
    const topology = new StreamTopology(baseOptions);
    topology.process('p0', reading({ line: 'L05', t: T0 + 70_000, v: 120, ingest: T0 + 70_000 }), 0);
    topology.process('p1', reading({ line: 'L01', t: T0 + 10_000, v: 120, ingest: T0 + 70_000 }), 0);
    topology.process('p2', reading({ line: 'L03', t: T0 + 10_000, v: 120, ingest: T0 + 70_000 }), 0);
    for (let dt = 10_000; dt <= 200_000; dt += 10_000) {
      // Current ingest times, event time stuck at T0 + 11 s (a backlog being delivered).
      topology.process('p2', reading({ line: 'L03', device: `m-${dt}`, t: T0 + 11_000, v: 120, ingest: T0 + 70_000 + dt }), 0);
      topology.advanceProcessingTime(T0 + 70_000 + dt);
    }
    const out = topology.takeOutput();
    // L01 and L05 went idle; L03 stayed active with event time stuck at T0 + 11 s, so it never fires.
    expect(out.aggregates.map((a) => a.lineId)).toEqual(['L01', 'L05']);
    expect(topology.stats().watermarks.L03).toBe(T0 + 6_000);
  });

  it('treats the ingest clock going backwards as no time passing', () => {
    const topology = new StreamTopology(baseOptions);
    topology.process('p0', reading({ t: T0 + 10_000, v: 120, ingest: T0 + 100_000 }), 0);
    topology.advanceProcessingTime(T0 + 50_000);
    topology.process('p0', reading({ t: T0 + 11_000, v: 120, ingest: T0 + 40_000 }), 0); // activity stays at T0 + 100 s
    topology.advanceProcessingTime(T0 + 130_000); // exactly the idle timeout after the last activity
    expect(topology.stats().watermarks.L01).toBe(T0 + 6_000);
    expect(topology.stats().ingestClocks).toEqual({ p0: T0 + 130_000 });
  });
});

describe('StreamTopology state and options', () => {
  it('reports open windows, tracked ids, lines, meters and counters', () => {
    const topology = new StreamTopology({ ...baseOptions, perMeter: true, hopMs: 30_000 });
    run(topology, [
      reading({ line: 'L01', device: 'a', t: T0 + 1_000, v: 120 }),
      reading({ line: 'L01', device: 'b', t: T0 + 2_000, v: 120 }),
      reading({ line: 'L02', device: 'c', t: T0 + 3_000, v: 120 }),
      reading({ line: 'L02', device: 'c', t: T0 + 3_000, v: 120 }),
    ]);
    // each event is in 2 windows; L01 has 2 line windows with 2 meters each, L02 2 with 1
    expect(topology.stats()).toEqual({
      openWindows: 2 * (1 + 2) + 2 * (1 + 1),
      trackedIds: 3,
      lines: 2,
      meters: 3,
      lateCounts: { L01: 0, L02: 0 },
      duplicateCounts: { L01: 0, L02: 1 },
      watermarks: { L01: T0 - 4_000, L02: T0 - 2_000 }, // L01: lower median of a's and b's newest readings
      ingestClocks: { p0: T0 + 3_500 },
      lineClocks: {
        L01: { partition: 'p0', watermark: T0 - 4_000, eventTimeMs: T0 + 1_000, activeMeters: 2, lastIngestTime: T0 + 2_500, idle: false, deliveryDelayMs: 500, deliveryDelayMaxMs: 500, rejected: 0 },
        L02: { partition: 'p0', watermark: T0 - 2_000, eventTimeMs: T0 + 3_000, activeMeters: 1, lastIngestTime: T0 + 3_500, idle: false, deliveryDelayMs: 500, deliveryDelayMaxMs: 500, rejected: 0 },
      },
    });
  });

  it('frees windows and tracked ids when windows fire', () => {
    const topology = new StreamTopology(baseOptions);
    run(topology, [reading({ t: T0, v: 120 }), reading({ t: T0 + 1, v: 120 }), reading({ t: T0 + 2 * MINUTE, v: 120 })]);
    expect(topology.stats()).toMatchObject({ openWindows: 1, trackedIds: 1 });
  });

  it('refuses to snapshot while output is waiting to be taken', () => {
    const topology = new StreamTopology(baseOptions);
    topology.process('p0', reading({ t: T0, v: 120 }), 0);
    topology.process('p0', reading({ t: T0 - 10 * MINUTE, v: 120 }), 0); // late
    expect(topology.hasOutput).toBe(true);
    expect(() => topology.snapshot()).toThrow(/take the buffered output first/);
    topology.takeOutput();
    expect(() => topology.snapshot()).not.toThrow();
  });

  it('refuses a snapshot taken with another window shape', () => {
    const topology = new StreamTopology(baseOptions);
    topology.process('p0', reading({ t: T0, v: 120 }), 0);
    const snapshot = topology.snapshot();
    expect(() => new StreamTopology({ ...baseOptions, hopMs: 30_000 }, snapshot)).toThrow(/size=60000 hop=60000 .* hop=30000/);
    expect(() => new StreamTopology({ ...baseOptions, perMeter: true }, snapshot)).toThrow(/perMeter=true/);
    expect(() => new StreamTopology(baseOptions, { ...snapshot, version: 3 as 4 })).toThrow(/version 3 .*npm run replay/);
  });

  it('rejects options that make windows ill-defined', () => {
    expect(() => new StreamTopology({ ...baseOptions, hopMs: 25_000 })).toThrow(/hopMs \(25000\) must divide windowSizeMs \(60000\)/);
    expect(() => new StreamTopology({ ...baseOptions, windowSizeMs: 0 })).toThrow(/windowSizeMs must be a positive integer/);
    expect(() => new StreamTopology({ ...baseOptions, outOfOrdernessMs: -1 })).toThrow(/outOfOrdernessMs/);
    expect(() => new StreamTopology({ ...baseOptions, voltageLow: 127 })).toThrow(/voltageLow \(127\) must be below voltageHigh/);
    expect(() => new StreamTopology({ ...baseOptions, rangeBLow: 115 })).toThrow(/rangeBLow/);
    expect(new StreamTopology(baseOptions).resolvedOptions).toMatchObject({ hopMs: MINUTE, perMeter: false, voltageLow: 114, voltageHigh: 126, rangeBLow: 110, rangeBHigh: 127, clearAfterWindows: 2 });
  });
});
