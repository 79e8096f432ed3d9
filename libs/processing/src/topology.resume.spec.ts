// Issue 13: a restart continues the lines where they stopped — the downtime is a stop, not silence.
import type { ReadingEnvelope } from '@meterstream/contracts';
import type { ProcessorSnapshot } from './snapshot';
import { baseOptions, MINUTE, reading, T0 } from './testing/fixtures';
import { StreamTopology, type ProcessorOutput } from './topology';

const P = 'p0';
const DOWNTIME = 20 * MINUTE;

/** Two lines of 3 meters in one partition, every meter every 10 s of event time in [from, to), ingested `ingestOffset` after. */
function readings(from: number, to: number, ingestOffset: number): ReadingEnvelope[] {
  const out: ReadingEnvelope[] = [];
  for (let t = from; t < to; t += 10_000) {
    for (const line of ['L01', 'L02']) {
      for (let k = 0; k < 3; k++) out.push(reading({ line, device: `${line}-m${k}`, t: t + k * 1_000, v: 120, ingest: t + k * 1_000 + 500 + ingestOffset }));
    }
  }
  return out.sort((a, b) => a.ingestTime - b.ingestTime);
}

function drain(topology: StreamTopology, out: Required<ProcessorOutput>): void {
  const o = topology.takeOutput();
  out.aggregates.push(...o.aggregates);
  out.late.push(...o.late);
}

/**
 * Runs 10 minutes, stops (snapshot) with windows open, restarts DOWNTIME later: the first empty
 * poll finds the input caught up, then the fleet continues its readings where it stopped
 * (ingested after the downtime), with one line's first reading before the other's.
 */
function restartRun(resume: boolean) {
  const out = { aggregates: [], alerts: [], late: [], rejected: [], cvrHours: [] } as Required<ProcessorOutput>;
  const before = new StreamTopology(baseOptions);
  for (const r of readings(T0, T0 + 10 * MINUTE + 30_000, 0)) before.process(P, r);
  drain(before, out);
  const snapshot = JSON.parse(JSON.stringify(before.snapshot())) as ProcessorSnapshot;

  const after = new StreamTopology(baseOptions, snapshot);
  if (resume) after.resume(DOWNTIME);
  const restartedAt = T0 + 10 * MINUTE + 30_000 + DOWNTIME;
  after.advanceProcessingTime(restartedAt); // caught up: nothing new in the log yet
  drain(after, out);
  for (const r of readings(T0 + 10 * MINUTE + 30_000, T0 + 20 * MINUTE, DOWNTIME + 5_000)) {
    after.process(P, r);
    drain(after, out);
  }
  // Live again: the clock moves on in small steps.
  for (let now = restartedAt + 10 * MINUTE; now <= restartedAt + 12 * MINUTE; now += 1_000) after.advanceProcessingTime(now);
  drain(after, out);
  return out;
}

const countsOf = (out: Required<ProcessorOutput>, line: string) =>
  out.aggregates.filter((a) => a.body.lineId === line && a.body.deviceId === undefined).map((a) => [new Date(a.body.windowStart).toISOString().slice(11, 16), a.body.count]);

describe('StreamTopology.resume: a restart continues its lines', () => {
  it('fires no window early and makes no reading late across the downtime', () => {
    const out = restartRun(true);
    expect(out.late).toEqual([]);
    for (const line of ['L01', 'L02']) {
      const counts = countsOf(out, line);
      // 05:00 … 05:19, each window complete: 3 meters × 6 readings; the last ones closed by idleness after the restart.
      expect(counts).toEqual(Array.from({ length: 20 }, (_, i) => [`05:${String(i).padStart(2, '0')}`, 18]));
    }
  });

  it('without it, the downtime looks like idleness: the open window fires short and the readings after the restart are late', () => {
    const out = restartRun(false);
    expect(out.late.length).toBeGreaterThan(0);
    expect(countsOf(out, 'L01').find(([start]) => start === '05:10')?.[1]).toBeLessThan(18);
  });

  it('leaves idleness alone once caught up: a line that stays silent after the restart still closes', () => {
    const topology = new StreamTopology(baseOptions);
    for (const r of readings(T0, T0 + 5 * MINUTE + 30_000, 0)) topology.process(P, r);
    topology.takeOutput();
    const restarted = new StreamTopology(baseOptions, JSON.parse(JSON.stringify(topology.snapshot())) as ProcessorSnapshot);
    restarted.resume(DOWNTIME);
    const out = { aggregates: [], alerts: [], late: [], rejected: [], cvrHours: [] } as Required<ProcessorOutput>;
    const restartedAt = T0 + 5 * MINUTE + 30_000 + DOWNTIME;
    for (let now = restartedAt; now <= restartedAt + 2 * MINUTE; now += 1_000) restarted.advanceProcessingTime(now);
    drain(restarted, out);
    expect(countsOf(out, 'L01').map(([start]) => start)).toContain('05:05');
  });

  it('counts the silence before the stop: input that ended long before a short stop closes as in an uninterrupted run', () => {
    const run = (restart: boolean) => {
      let topology = new StreamTopology(baseOptions);
      for (const r of readings(T0, T0 + 5 * MINUTE + 30_000, 0)) topology.process(P, r);
      topology.takeOutput();
      if (restart) {
        topology = new StreamTopology(baseOptions, JSON.parse(JSON.stringify(topology.snapshot())) as ProcessorSnapshot);
        topology.resume(1_000); // stopped for a second, hours after the last reading
      }
      topology.advanceProcessingTime(T0 + 3 * 60 * MINUTE);
      const out = { aggregates: [], alerts: [], late: [], rejected: [], cvrHours: [] } as Required<ProcessorOutput>;
      drain(topology, out);
      return countsOf(out, 'L01');
    };
    expect(run(true)).toEqual(run(false));
    expect(run(false).map(([start]) => start)).toContain('05:05');
  });
});
