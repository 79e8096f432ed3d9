// Issue 16: watermarks per line, robust to one device's clock, idle lines on the ingest clock.
import type { AggregateEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { AMI_HEAD_END_TIMING, resolveProcessorOptions, type ProcessorOptions } from './options';
import { createAlertRules } from './rules/create-alert-rules';
import type { ProcessorSnapshot } from './snapshot';
import { baseOptions, MINUTE, reading, T0 } from './testing/fixtures';
import { StreamTopology, type ProcessorOutput } from './topology';

type Output = Required<ProcessorOutput>;
/** A reading from the log, or the runtime finding its input caught up at `caughtUpAt` (advanceProcessingTime). */
type Step = ReadingEnvelope | { caughtUpAt: number };

interface LiveLine {
  line: string;
  meters: number;
  from: number;
  to: number;
  /** Delivery delay of the line's collector (ingestTime − eventTime), before jitter. */
  delayMs?: number;
  /** Up to this much more delay per reading, varying (deterministically) by meter and time. */
  jitterMs?: number;
}

/** Every meter of a line reporting every 10 s in [from, to), meters a second apart. */
function liveLine({ line, meters, from, to, delayMs = 500, jitterMs = 0 }: LiveLine): ReadingEnvelope[] {
  const readings: ReadingEnvelope[] = [];
  for (let t = from, i = 0; t < to; t += 10_000, i++) {
    for (let k = 0; k < meters; k++) {
      const jitter = jitterMs === 0 ? 0 : ((i * 7 + k * 13) % 10) * (jitterMs / 10);
      readings.push(reading({ line, device: `${line}-m${k}`, t: t + k * 1_000, v: 120, ingest: t + k * 1_000 + delayMs + jitter }));
    }
  }
  return readings;
}

/** The log order: by ingest time (a stable sort keeps each collector's own order). */
function byIngest(...lines: ReadingEnvelope[][]): ReadingEnvelope[] {
  return lines.flat().sort((a, b) => a.ingestTime - b.ingestTime);
}

/** Feeds everything from one partition, records what each aggregate was emitted after. */
function feed(topology: StreamTopology, steps: Step[]): Output & { emittedAfter: Map<string, ReadingEnvelope | number> } {
  const all: Output = { aggregates: [], alerts: [], late: [], rejected: [], cvrHours: [] };
  const emittedAfter = new Map<string, ReadingEnvelope | number>();
  for (const step of steps) {
    if ('caughtUpAt' in step) topology.advanceProcessingTime(step.caughtUpAt);
    else topology.process('p0', step, 0);
    const out = topology.takeOutput();
    for (const a of out.aggregates) emittedAfter.set(key(a), 'caughtUpAt' in step ? step.caughtUpAt : step);
    all.aggregates.push(...out.aggregates);
    all.alerts.push(...out.alerts);
    all.late.push(...out.late);
    all.rejected.push(...out.rejected);
  }
  return { ...all, emittedAfter };
}

const key = (a: AggregateEnvelope) => `${a.lineId}@${(a.body.windowStart - T0) / MINUTE}`;
const counts = (out: Output, line: string) => out.aggregates.filter((a) => a.lineId === line && a.deviceId === null).map((a) => [key(a), a.body.count]);
const complete = (line: string, fromMinute: number, toMinute: number, count: number) => Array.from({ length: toMinute - fromMinute }, (_, i) => [`${line}@${fromMinute + i}`, count]);

describe('StreamTopology: lines sharing a partition, each with its own delivery delay', () => {
  it('gives a live line and one 3 minutes behind complete windows, nothing late, and live latency to the live line', () => {
    const topology = new StreamTopology(baseOptions); // out-of-orderness 5 s
    const readings = byIngest(
      liveLine({ line: 'L01', meters: 5, from: T0, to: T0 + 10 * MINUTE, jitterMs: 4_000 }),
      liveLine({ line: 'L02', meters: 5, from: T0, to: T0 + 10 * MINUTE, delayMs: 3 * MINUTE, jitterMs: 4_000 }),
    );
    const out = feed(topology, [...readings, { caughtUpAt: T0 + 20 * MINUTE }]);
    expect(out.late).toEqual([]);
    expect(out.rejected).toEqual([]);
    expect(counts(out, 'L01')).toEqual(complete('L01', 0, 10, 30)); // 5 meters x 6 readings
    expect(counts(out, 'L02')).toEqual(complete('L02', 0, 10, 30));
    // The live line is not held back by the late one: its first minute closes about a minute after it ended.
    expect((out.emittedAfter.get('L01@0') as ReadingEnvelope).ingestTime).toBeLessThan(T0 + 80_000);
    expect((out.emittedAfter.get('L02@0') as ReadingEnvelope).ingestTime).toBeGreaterThan(T0 + 4 * MINUTE);
    const { L01, L02 } = topology.stats().lineClocks;
    expect(L01.deliveryDelayMs).toBeGreaterThanOrEqual(500);
    expect(L01.deliveryDelayMs).toBeLessThan(500 + 4_000);
    expect(L02.deliveryDelayMs).toBeGreaterThanOrEqual(3 * MINUTE);
    expect(L02.deliveryDelayMs).toBeLessThan(3 * MINUTE + 4_000);
    expect(L02.deliveryDelayMaxMs).toBe(3 * MINUTE + 3_600); // the largest jitter step: 9/10 of 4 s
  });

  it('waits for meters gone silent (half the line or more) until they expire, then closes complete windows', () => {
    const topology = new StreamTopology({ ...baseOptions, meterActiveMs: 10 * MINUTE });
    const line = liveLine({ line: 'L01', meters: 5, from: T0, to: T0 + 30 * MINUTE });
    // m2..m4 lose power after 5 minutes: the lower median of the line's meters stays at their last readings.
    const readings = line.filter((r) => r.eventTime < T0 + 5 * MINUTE || ['L01-m0', 'L01-m1'].includes(r.body.deviceId));
    const out = feed(topology, [...readings, { caughtUpAt: T0 + 40 * MINUTE }]);
    expect(out.late).toEqual([]);
    expect(counts(out, 'L01')).toEqual([...complete('L01', 0, 5, 30), ...complete('L01', 5, 30, 12)]);
    const firedAt = (minute: number) => (out.emittedAfter.get(`L01@${minute}`) as ReadingEnvelope).ingestTime;
    expect(firedAt(3)).toBeLessThan(T0 + 5 * MINUTE); // live, while all five reported
    // Minute 4 on: once the silent meters expired (10 minutes after their last reading, at the next sweep).
    expect(firedAt(4)).toBeGreaterThan(T0 + 15 * MINUTE);
    expect(firedAt(4)).toBeLessThan(T0 + 17 * MINUTE);
    expect(firedAt(10)).toBe(firedAt(4));
    expect(topology.stats().lineClocks.L01.activeMeters).toBe(2);
    expect(topology.stats().meters).toBe(5); // meters seen stay counted
  });

  it('judges lateness by each line’s own timing (lineTiming)', () => {
    const topology = new StreamTopology({ ...baseOptions, lineTiming: [{ match: 'L01', allowedLatenessMs: 30 * 1_000 }] });
    const straggler = (line: string) => reading({ line, device: `${line}-late`, t: T0 + 50_000, v: 120, ingest: T0 + 90_000 });
    const out = feed(topology, [
      ...byIngest(liveLine({ line: 'L01', meters: 3, from: T0, to: T0 + 80_000 }), liveLine({ line: 'L02', meters: 3, from: T0, to: T0 + 80_000 })),
      straggler('L01'), // 20 s after its window closed for L02, within L01's 30 s of allowed lateness
      straggler('L02'),
    ]);
    expect(out.late.map((r) => r.lineId)).toEqual(['L02']);
    expect(topology.stats().lateCounts).toEqual({ L01: 0, L02: 1 });
  });
});

describe('StreamTopology: a meter with a fast clock', () => {
  /** Two live lines on one partition for 20 minutes (no jitter: ahead times are exact), plus `extra`; meterstream's rules. */
  const withFastReading = (extra: ReadingEnvelope[]) => {
    const topology = new StreamTopology(baseOptions, undefined, createAlertRules(resolveProcessorOptions(baseOptions), 'meterstream'));
    const readings = byIngest(liveLine({ line: 'L01', meters: 5, from: T0, to: T0 + 20 * MINUTE }), liveLine({ line: 'L02', meters: 5, from: T0, to: T0 + 20 * MINUTE }), extra);
    return { topology, out: feed(topology, [...readings, { caughtUpAt: T0 + 40 * MINUTE }]) };
  };
  // Sent at T0 + 3 min 5 s (between its meter's regular readings, so its id is its own).
  const sentAt = T0 + 3 * MINUTE + 5_000;

  it('rejects one reading 50 minutes ahead (default limit 15 min), and nobody’s readings go late', () => {
    const fast = reading({ line: 'L01', device: 'L01-m3', t: sentAt + 50 * MINUTE, v: 120, ingest: sentAt + 500 });
    const { topology, out } = withFastReading([fast]);
    expect(out.rejected.map((r) => r.reading)).toEqual([fast]);
    // 50 minutes, give or take the 1 s between the meters' readings.
    expect(out.rejected[0].reason).toMatch(/^clock ahead of its line: 300[0-2] s ahead of the line's other meters$/);
    expect(out.late).toEqual([]);
    expect(counts(out, 'L01')).toEqual(complete('L01', 0, 20, 30));
    expect(counts(out, 'L02')).toEqual(complete('L02', 0, 20, 30));
    expect(topology.stats().lineClocks.L01.rejected).toBe(1);
    expect(out.alerts.filter((a) => a.body.kind === 'meter-clock')).toEqual([]); // one reading is not a pattern
  });

  it('windows one reading 10 minutes ahead (inside the limit) in its future window, which waits for the line', () => {
    const fast = reading({ line: 'L01', device: 'L01-m3', t: sentAt + 10 * MINUTE, v: 130, ingest: sentAt + 500 });
    const { out } = withFastReading([fast]);
    expect(out.rejected).toEqual([]);
    expect(out.late).toEqual([]);
    const future = out.aggregates.find((a) => key(a) === 'L01@13')!;
    expect(future.body).toMatchObject({ count: 31, voltage: { max: 130 } });
    // Fired once the line's own meters had passed its end, not when the fast reading came.
    const firedBy = out.emittedAfter.get('L01@13') as ReadingEnvelope;
    expect(firedBy.lineId).toBe('L01');
    expect(firedBy.eventTime).toBeGreaterThanOrEqual(T0 + 14 * MINUTE + 5_000);
    expect(counts(out, 'L01')).toEqual(complete('L01', 0, 20, 30).map(([k, n]) => [k, k === 'L01@13' ? 31 : n]));
    expect(counts(out, 'L02')).toEqual(complete('L02', 0, 20, 30));
  });

  it('leaves the line’s delivery delay alone: a fast meter’s readings show its clock error, not the line’s delay', () => {
    // A meter of its own, 5 minutes fast, reporting with the others to the end: windowed (inside the limit), flagged.
    const fast = Array.from({ length: 100 }, (_, i) => reading({ line: 'L01', device: 'L01-fast', t: sentAt + i * 10_000 + 5 * MINUTE, v: 120, ingest: sentAt + i * 10_000 + 500 }));
    const { topology, out } = withFastReading(fast);
    expect(out.rejected).toEqual([]);
    expect(out.alerts.filter((a) => a.body.kind === 'meter-clock').map((a) => `${a.deviceId} ${a.body.state}`)).toEqual(['L01-fast raised']);
    const { L01, L02 } = topology.stats().lineClocks;
    // Without the exclusion, an EWMA weighing 5 % per reading would sit far below 500 ms (−5 min readings).
    expect([L01.deliveryDelayMs, L01.deliveryDelayMaxMs]).toEqual([500, 500]);
    expect([L02.deliveryDelayMs, L02.deliveryDelayMaxMs]).toEqual([500, 500]);
  });
});

describe('StreamTopology: a collector uploading 15-minute bulks an hour late (AMI head-end)', () => {
  /**
   * HE1-L07's 10 meters read every minute; its head-end uploads bulk b (event time [15b, 15b + 15)
   * min) at 15(b + 1) + 60 min, meter by meter, 100 ms a reading; bulk 2 comes 4 minutes later than
   * usual. A live line on the same partition keeps the ingest clock moving in between.
   */
  function bulkWorkload(): ReadingEnvelope[] {
    const live: ReadingEnvelope[] = [];
    for (let t = T0 + 60 * MINUTE; t < T0 + 150 * MINUTE; t += MINUTE) {
      for (let k = 0; k < 5; k++) live.push(reading({ line: 'L01', device: `L01-m${k}`, t: t + k * 1_000, v: 120, ingest: t + k * 1_000 + 500 }));
    }
    const bulks: ReadingEnvelope[] = [];
    for (let b = 0; b < 4; b++) {
      let ingest = T0 + (15 * (b + 1) + 60 + (b === 2 ? 4 : 0)) * MINUTE;
      for (let k = 0; k < 10; k++) {
        for (let i = 0; i < 15; i++) bulks.push(reading({ line: 'HE1-L07', device: `HE1-L07-m${k}`, t: T0 + (15 * b + i) * MINUTE + k * 1_000, v: 120, ingest: (ingest += 100) }));
      }
    }
    return byIngest(live, bulks);
  }

  const run = (options: ProcessorOptions) => {
    const topology = new StreamTopology(options, undefined, createAlertRules(resolveProcessorOptions(options), 'meterstream'));
    return { topology, out: feed(topology, [...bulkWorkload(), { caughtUpAt: T0 + 200 * MINUTE }]) };
  };
  const global: ProcessorOptions = { ...baseOptions, outOfOrdernessMs: 10_000 };

  it('windows every bulk completely with the documented setting: out-of-orderness >= the bulk interval, idle timeout above it', () => {
    const { topology, out } = run({ ...global, lineTiming: [{ match: 'HE1-*', ...AMI_HEAD_END_TIMING }] });
    expect(out.late).toEqual([]);
    expect(out.rejected).toEqual([]);
    expect(counts(out, 'HE1-L07')).toEqual(complete('HE1-L07', 0, 60, 10));
    // Meter by meter, each meter's readings run up to 15 minutes ahead of the others': not a clock fault.
    expect(out.alerts.filter((a) => a.body.kind === 'meter-clock')).toEqual([]);
    const delay = topology.stats().lineClocks['HE1-L07'].deliveryDelayMs;
    expect(delay).toBeGreaterThan(60 * MINUTE);
    expect(delay).toBeLessThan(80 * MINUTE);
  });

  it.each<[string, ProcessorOptions, (r: ReadingEnvelope) => boolean]>([
    ['without the setting (out-of-orderness 10 s): the meters still to come in each bulk are late', global, () => true],
    [
      'with the out-of-orderness but the global idle timeout (30 s): the bulk that came 4 minutes late starts late',
      { ...global, lineTiming: [{ match: 'HE1-*', outOfOrdernessMs: AMI_HEAD_END_TIMING.outOfOrdernessMs }] },
      (r) => r.eventTime >= T0 + 30 * MINUTE && r.eventTime < T0 + 34 * MINUTE,
    ],
  ])('shows late readings %s', (_name, options, where) => {
    const { out } = run(options);
    expect(out.late.length).toBeGreaterThanOrEqual(10);
    expect(out.late.every((r) => r.lineId === 'HE1-L07' && where(r))).toBe(true);
  });
});

describe('StreamTopology: idle lines close by the ingest clock, deterministically', () => {
  /**
   * L01 stops after 5 minutes; L02 (live) and L03 (2 minutes behind) go on for 10, and a fast meter
   * on L02 is rejected and raises a meter-clock alert. The runtime finds its input caught up (ticks)
   * only now and then, and at the end.
   */
  function workload(withTicks: boolean): Step[] {
    // A meter of its own, all of whose readings are fast: first 50 minutes (rejected), then 5.
    const fast = [0, 1, 2, 3].map((i) => reading({ line: 'L02', device: 'L02-fast', t: T0 + (6 + i) * MINUTE + (i === 0 ? 50 : 5) * MINUTE, v: 121, ingest: T0 + (6 + i) * MINUTE + 500 }));
    const readings = byIngest(
      liveLine({ line: 'L01', meters: 4, from: T0, to: T0 + 5 * MINUTE, jitterMs: 2_000 }),
      liveLine({ line: 'L02', meters: 4, from: T0, to: T0 + 10 * MINUTE, jitterMs: 2_000 }),
      liveLine({ line: 'L03', meters: 4, from: T0, to: T0 + 10 * MINUTE, delayMs: 2 * MINUTE, jitterMs: 2_000 }),
      fast,
    );
    const steps: Step[] = [];
    readings.forEach((r, i) => {
      steps.push(r);
      if (withTicks && i % 97 === 0) steps.push({ caughtUpAt: r.ingestTime });
    });
    if (withTicks) steps.push({ caughtUpAt: T0 + 30 * MINUTE });
    return steps;
  }
  const options: ProcessorOptions = { ...baseOptions, perMeter: true };
  const fresh = (snapshot?: ProcessorSnapshot) => new StreamTopology(options, snapshot, createAlertRules(resolveProcessorOptions(options), 'meterstream'));
  const plain = (out: Output) => ({ aggregates: out.aggregates, alerts: out.alerts, late: out.late, rejected: out.rejected });

  it('closes the silent line’s windows from the other lines’ ingest times alone, without the runtime’s ticks', () => {
    const topology = fresh();
    const out = feed(topology, workload(false));
    expect(counts(out, 'L01')).toEqual(complete('L01', 0, 5, 24));
    expect(topology.stats().lineClocks.L01.idle).toBe(true);
    expect(out.rejected.map((r) => r.reading.body.deviceId)).toEqual(['L02-fast']);
    expect(out.alerts.filter((a) => a.body.kind === 'meter-clock').map((a) => `${a.deviceId} ${a.body.state}`)).toEqual(['L02-fast raised']);
  });

  it.each([
    ['without ticks', false],
    ['with ticks', true],
  ])('gives byte-identical output for the same input twice, and across a snapshot and restore anywhere (%s)', (_name, withTicks) => {
    const steps = workload(withTicks);
    const expected = plain(feed(fresh(), steps));
    expect(JSON.stringify(plain(feed(fresh(), steps)))).toBe(JSON.stringify(expected));
    for (const cut of [1, Math.floor(steps.length / 4), Math.floor(steps.length / 2), steps.length - 40]) {
      const before = fresh();
      const head = feed(before, steps.slice(0, cut));
      const snapshot = JSON.parse(JSON.stringify(before.snapshot())) as ProcessorSnapshot;
      const after = fresh(snapshot);
      expect(after.snapshot()).toEqual(snapshot);
      expect(after.stats()).toEqual(before.stats());
      const tail = feed(after, steps.slice(cut));
      const joined = { aggregates: [...head.aggregates, ...tail.aggregates], alerts: [...head.alerts, ...tail.alerts], late: [...head.late, ...tail.late], rejected: [...head.rejected, ...tail.rejected] };
      expect(JSON.stringify(joined)).toBe(JSON.stringify(expected));
    }
    expect(expected.aggregates.length).toBeGreaterThan(0);
  });

  it('gives a replay reading partitions in batches (one backlog ahead of another) what the live run gave', () => {
    const partitionOf: Record<string, string> = { L01: 'p0', L02: 'p0', L03: 'p1', L04: 'p2' };
    const readings = byIngest(
      liveLine({ line: 'L01', meters: 4, from: T0, to: T0 + 10 * MINUTE, jitterMs: 2_000 }),
      liveLine({ line: 'L02', meters: 4, from: T0, to: T0 + 5 * MINUTE, jitterMs: 2_000 }), // falls silent
      liveLine({ line: 'L03', meters: 4, from: T0, to: T0 + 10 * MINUTE, delayMs: 2 * MINUTE, jitterMs: 2_000 }),
      liveLine({ line: 'L04', meters: 4, from: T0, to: T0 + 10 * MINUTE, jitterMs: 2_000 }),
    );
    const run = (order: Array<ReadingEnvelope | number>) => {
      const topology = new StreamTopology(options, undefined, createAlertRules(resolveProcessorOptions(options), 'meterstream'));
      const out: Output = { aggregates: [], alerts: [], late: [], rejected: [], cvrHours: [] };
      for (const step of order) {
        if (typeof step === 'number') topology.advanceProcessingTime(step);
        else topology.process(partitionOf[step.lineId], step, 0);
        const o = topology.takeOutput();
        out.aggregates.push(...o.aggregates);
        out.alerts.push(...o.alerts);
        out.late.push(...o.late);
      }
      return out;
    };
    // Live: in ingest order, caught up (a tick) every 5 s of ingest time.
    const live: Array<ReadingEnvelope | number> = [];
    let tick = -Infinity;
    for (const r of readings) {
      if (r.ingestTime - tick >= 5_000) live.push((tick = r.ingestTime));
      live.push(r);
    }
    live.push(T0 + 30 * MINUTE);
    // Replay: 200 records of p0, then of p1, then of p2, and again; caught up only at the end.
    const byPartition = ['p0', 'p1', 'p2'].map((p) => readings.filter((r) => partitionOf[r.lineId] === p));
    const replay: Array<ReadingEnvelope | number> = [];
    for (let at = 0; byPartition.some((list) => at < list.length); at += 200) for (const list of byPartition) replay.push(...list.slice(at, at + 200));
    replay.push(T0 + 30 * MINUTE);

    const a = run(live);
    const b = run(replay);
    const byId = <T extends { id: string }>(list: T[]) => [...list].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    expect(a.late).toEqual([]);
    expect(b.late).toEqual([]);
    expect(byId(b.aggregates)).toEqual(byId(a.aggregates));
    expect(byId(b.alerts)).toEqual(byId(a.alerts));
    expect(counts(a, 'L02')).toEqual(complete('L02', 0, 5, 24));
  });

  it('stores the clocks as plain JSON and refuses a snapshot while rejected readings wait to be taken', () => {
    const topology = fresh();
    topology.process('p0', reading({ device: 'a', t: T0, v: 120 }), 0);
    topology.process('p0', reading({ device: 'b', t: T0, v: 120 }), 0);
    topology.process('p0', reading({ device: 'a', t: T0 + 60 * MINUTE, v: 120, ingest: T0 + 1_000 }), 0);
    expect(topology.hasOutput).toBe(true);
    expect(() => topology.snapshot()).toThrow(/take the buffered output first/);
    expect(topology.takeOutput().rejected).toHaveLength(1);
    const snapshot = topology.snapshot();
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(snapshot).toMatchObject({ version: 4, ingestClocks: [{ partition: 'p0', ingestClockMs: T0 + 1_000 }], lines: [{ lineId: 'L01', partition: 'p0', rejectedCount: 1, meters: ['a', 'b'], clock: { active: [['a', T0, T0 + 500], ['b', T0, T0 + 500]] } }] });
  });
});
