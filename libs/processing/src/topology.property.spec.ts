import fc from 'fast-check';
import type { AggregateEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { aggregateId } from '@meterstream/contracts';
import { reading, referenceEnergy, referenceStats, T0 } from './testing/fixtures';
import { StreamTopology } from './topology';
import type { ProcessorOptions } from './options';

const OUT_OF_ORDERNESS = 3_000;
const LINES = ['L01', 'L02', 'L03', 'L04'];

interface Arrival {
  partition: string;
  reading: ReadingEnvelope;
  arrival: number;
}

/**
 * The obvious batch computation, written independently of the streaming code: group the distinct
 * readings by (line[, meter], window) and compute each window's statistics from the list.
 */
function batchAggregates(readings: ReadingEnvelope[], sizeMs: number, hopMs: number, perMeter: boolean): Map<string, Omit<AggregateEnvelope['body'], 'voltage'> & { voltage: ReturnType<typeof referenceStats>; ingestTime: number }> {
  const groups = new Map<string, { lineId: string; deviceId?: string; start: number; items: ReadingEnvelope[] }>();
  const addTo = (scope: string, lineId: string, deviceId: string | undefined, start: number, r: ReadingEnvelope) => {
    const id = aggregateId(scope, start, sizeMs);
    const group = groups.get(id) ?? { lineId, deviceId, start, items: [] };
    group.items.push(r);
    groups.set(id, group);
  };
  for (const r of readings) {
    for (let start = Math.floor(r.eventTime / hopMs) * hopMs; start > r.eventTime - sizeMs; start -= hopMs) {
      addTo(r.lineId, r.lineId, undefined, start, r);
      if (perMeter) addTo(`${r.lineId}/${r.body.deviceId}`, r.lineId, r.body.deviceId, start, r);
    }
  }
  const result = new Map();
  for (const [id, g] of groups) {
    const currents = g.items.map((r) => r.body.current).filter((c): c is number => c !== undefined);
    const kws = g.items.map((r) => r.body.kw).filter((k): k is number => k !== undefined);
    const meanMax = (xs: number[]) => (xs.length === 0 ? undefined : { mean: xs.reduce((a, b) => a + b, 0) / xs.length, max: Math.max(...xs) });
    result.set(id, {
      lineId: g.lineId,
      deviceId: g.deviceId,
      windowStart: g.start,
      windowEnd: g.start + sizeMs,
      count: g.items.length,
      meters: new Set(g.items.map((r) => r.body.deviceId)).size,
      voltage: referenceStats(g.items.map((r) => r.body.voltage)),
      current: meanMax(currents),
      kw: meanMax(kws),
      energyKwh: referenceEnergy(g.items),
      ingestTime: Math.max(...g.items.map((r) => r.ingestTime)),
    });
  }
  return result;
}

const windowShapes = fc.constantFrom([10_000, 10_000], [10_000, 5_000], [12_000, 4_000], [6_000, 6_000]);

const eventArb = fc.record({
  line: fc.constantFrom(...LINES),
  meter: fc.integer({ min: 0, max: 3 }),
  offset: fc.integer({ min: 0, max: 60_000 }),
  voltage: fc.double({ min: 100, max: 140, noNaN: true }),
  current: fc.option(fc.double({ min: 0, max: 50, noNaN: true }), { nil: undefined }),
  kw: fc.option(fc.double({ min: -5, max: 10, noNaN: true }), { nil: undefined }),
  // Unordered on purpose: registers that go backwards (count 0) as well as forwards.
  kwh: fc.option(fc.double({ min: 0, max: 100_000, noNaN: true }), { nil: undefined }),
  // Share of the line's out-of-orderness this reading's delivery adds to the line's own delay.
  jitter: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  duplicateJitter: fc.option(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { nil: undefined, freq: 4 }),
});

/**
 * Each line's delivery: a delay of its own (a live collector, or a head-end minutes behind) and,
 * for some lines, an out-of-orderness of their own (lineTiming). Readings of a line arrive its
 * delay plus less than its out-of-orderness after their event time.
 */
const lineDeliveryArb = fc.record({
  delayMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 10 * 60_000 })),
  outOfOrdernessMs: fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined }),
});

describe('StreamTopology against a batch computation (property)', () => {
  it('matches the batch aggregates over the distinct events for any interleaving of lines with their own delays, bounded disorder and duplicates', () => {
    fc.assert(
      fc.property(
        windowShapes,
        fc.boolean(),
        fc.integer({ min: 1, max: 3 }),
        fc.array(lineDeliveryArb, { minLength: LINES.length, maxLength: LINES.length }),
        fc.array(eventArb, { minLength: 1, maxLength: 120 }),
        ([sizeMs, hopMs], perMeter, partitionCount, deliveries, events) => {
          const delivery = new Map(LINES.map((line, i) => [line, { delayMs: deliveries[i].delayMs, outOfOrdernessMs: deliveries[i].outOfOrdernessMs ?? OUT_OF_ORDERNESS }]));
          const options: ProcessorOptions = {
            windowSizeMs: sizeMs,
            hopMs,
            perMeter,
            outOfOrdernessMs: OUT_OF_ORDERNESS,
            allowedLatenessMs: 0,
            idleTimeoutMs: 1e9,
            lineTiming: LINES.flatMap((match, i) => (deliveries[i].outOfOrdernessMs === undefined ? [] : [{ match, outOfOrdernessMs: deliveries[i].outOfOrdernessMs }])),
          };
          const arrivals: Arrival[] = [];
          for (const e of events) {
            const t = T0 + e.offset;
            // Several lines per partition when partitionCount < 4.
            const partition = `p${Number(e.line.slice(1)) % partitionCount}`;
            const { delayMs, outOfOrdernessMs } = delivery.get(e.line)!;
            const arrival = t + delayMs + Math.floor(e.jitter * outOfOrdernessMs);
            const r = reading({ line: e.line, device: `${e.line}-m${e.meter}`, t, v: e.voltage, current: e.current, kw: e.kw, kwh: e.kwh, ingest: arrival });
            arrivals.push({ partition, reading: r, arrival });
            if (e.duplicateJitter !== undefined) {
              const again = t + delayMs + Math.floor(e.duplicateJitter * outOfOrdernessMs);
              arrivals.push({ partition, reading: { ...r, ingestTime: again }, arrival: again });
            }
          }
          // Delivery in arrival order (ingest time): a line's readings arrive its own delay plus less
          // than its own out-of-orderness after their event time, interleaved with other lines'.
          arrivals.sort((a, b) => a.arrival - b.arrival);

          const topology = new StreamTopology(options);
          arrivals.forEach((a, i) => topology.process(a.partition, a.reading, i));
          const live = topology.takeOutput();
          expect(live.late).toEqual([]); // each line within its own out-of-orderness: nothing late, whatever the others do
          topology.advanceProcessingTime(1e15); // every line idle long enough: all windows fire
          const rest = topology.takeOutput();
          const out = { aggregates: [...live.aggregates, ...rest.aggregates], late: [...live.late, ...rest.late], rejected: [...live.rejected, ...rest.rejected] };

          // The first delivery of an id is the one that counts (the rest are duplicates).
          const distinct = new Map<string, ReadingEnvelope>();
          for (const a of arrivals) if (!distinct.has(a.reading.id)) distinct.set(a.reading.id, a.reading);
          const expected = batchAggregates([...distinct.values()], sizeMs, hopMs, perMeter);

          expect(out.late).toEqual([]);
          expect(out.rejected).toEqual([]);
          const stats = topology.stats();
          expect(Object.values(stats.duplicateCounts).reduce((a, b) => a + b, 0)).toBe(arrivals.length - distinct.size);
          expect(stats.openWindows).toBe(0);
          expect(out.aggregates.map((a) => a.id).sort()).toEqual([...expected.keys()].sort());
          for (const aggregate of out.aggregates) {
            const want = expected.get(aggregate.id)!;
            const body = aggregate.body;
            expect(body.deviceId).toBe(want.deviceId);
            expect([body.lineId, body.windowStart, body.windowEnd, body.count, body.meters]).toEqual([want.lineId, want.windowStart, want.windowEnd, want.count, want.meters]);
            expect(aggregate.ingestTime).toBe(want.ingestTime);
            expect([body.voltage.min, body.voltage.max, body.voltage.p5, body.voltage.p95]).toEqual([want.voltage.min, want.voltage.max, want.voltage.p5, want.voltage.p95]);
            // Same per-meter differences summed in the same (deviceId) order: exactly equal.
            expect(body.energyKwh).toBe(want.energyKwh);
            expect(body.voltage.mean).toBeCloseTo(want.voltage.mean, 8);
            expect(body.voltage.stddev).toBeCloseTo(want.voltage.stddev, 6);
            for (const key of ['current', 'kw'] as const) {
              if (want[key] === undefined) expect(body[key]).toBeUndefined();
              else {
                expect(body[key]!.max).toBe(want[key]!.max);
                expect(body[key]!.mean).toBeCloseTo(want[key]!.mean, 8);
              }
            }
          }
        },
      ),
      { numRuns: 200, seed: 20261129 },
    );
  });
});
