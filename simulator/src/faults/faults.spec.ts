import { parseReading } from '@meterstream/contracts';
import { fleetLayout, type LineLayout } from '../fleet/fleet-layout';
import { faultLabels, generateMessages, type SimMessage } from '../generation/generate-messages';
import type { SimulatorOptions } from '../options';
import { MALFORMED_VARIETIES, type FaultLabel, type FaultSpec, type MessageLabel } from './fault-spec';

const MONDAY = Date.parse('2026-11-30T00:00:00Z');
const HOUR = 3_600_000;
const FAR_FUTURE = Date.parse('2100-01-01T00:00:00Z');
const iso = (hour: number): string => new Date(MONDAY + hour * HOUR).toISOString();
/** Two values rounded to 0.1 V differ from the exact shift by at most 0.1 V. */
const ROUNDING = 0.1 + 1e-9;

interface Row {
  seq: number;
  topic: string;
  deviceId: string;
  lineId: string;
  ts: number;
  voltage: number;
  current: number;
  kw: number;
}

const key = (deviceId: string, ts: number): string => `${deviceId}@${ts}`;

/** The valid readings of a run by device and event time (a duplicate is the same reading again). */
function readingsByKey(messages: SimMessage[]): Map<string, Row> {
  const out = new Map<string, Row>();
  for (const m of messages) {
    if (!m.valid) continue;
    const json = JSON.parse(m.payload.toString());
    const row: Row = { ...json, seq: m.seq, topic: m.topic, ts: Date.parse(json.ts) };
    if (!out.has(key(row.deviceId, row.ts))) out.set(key(row.deviceId, row.ts), row);
  }
  return out;
}

const within = (label: FaultLabel, ts: number): boolean => ts >= Date.parse(label.start) && ts < Date.parse(label.end);

/**
 * Checks a fault label against the data: the faulty run against the same run without faults.
 * Noise comes from its own seeded stream, so the two runs differ only where a fault acts.
 * Returns a list of problems (empty when the fault shows exactly as labelled).
 */
function problemsOf(label: FaultLabel, faulty: Map<string, Row>, baseline: Map<string, Row>, layout: LineLayout[]): string[] {
  const problems: string[] = [];
  const line = layout.find((l) => l.lineId === label.lineId)!;
  const head = line.meters[0].deviceId;
  const tail = line.meters[line.meters.length - 1].deviceId;
  const rowsOf = (deviceId: string) => [...baseline.values()].filter((r) => r.deviceId === deviceId && within(label, r.ts));
  let seen = 0;
  switch (label.kind) {
    case 'sag':
    case 'swell':
    case 'failed-regulator': {
      const shift = label.kind === 'swell' ? label.params.deltaV : -label.params.deltaV;
      for (const base of baseline.values()) {
        const now = faulty.get(key(base.deviceId, base.ts));
        if (base.lineId !== label.lineId || !within(label, base.ts) || !now) continue;
        seen++;
        if (Math.abs(now.voltage - base.voltage - shift) > ROUNDING) problems.push(`${label.kind}: ${base.deviceId} at ${base.ts} moved ${now.voltage - base.voltage}, expected ${shift}`);
        if (label.kind === 'sag' && base.deviceId === tail && now.voltage >= 114) problems.push(`sag: tail ${tail} at ${now.voltage} V, not below 114 V`);
        if (label.kind === 'swell' && base.deviceId === head && now.voltage <= 126) problems.push(`swell: head ${head} at ${now.voltage} V, not above 126 V`);
      }
      break;
    }
    case 'drift':
      for (const base of rowsOf(label.deviceId!)) {
        const now = faulty.get(key(base.deviceId, base.ts));
        if (!now) continue;
        seen++;
        const expected = (label.params.voltsPerHour * (base.ts - Date.parse(label.start))) / HOUR;
        if (Math.abs(now.voltage - base.voltage - expected) > ROUNDING) problems.push(`drift: ${now.voltage - base.voltage} at ${base.ts}, expected ${expected}`);
      }
      break;
    case 'stuck': {
      const inside = [...faulty.values()].filter((r) => r.deviceId === label.deviceId && within(label, r.ts));
      const before = [...faulty.values()].filter((r) => r.deviceId === label.deviceId && r.ts < Date.parse(label.start)).pop();
      const frozen = before ?? inside[0];
      seen = inside.length;
      for (const r of inside) {
        if (r.voltage !== frozen.voltage || r.current !== frozen.current || r.kw !== frozen.kw) problems.push(`stuck: ${r.deviceId} at ${r.ts} reads ${r.voltage} V ${r.kw} kW, frozen value ${frozen.voltage} V ${frozen.kw} kW`);
      }
      break;
    }
  }
  if (seen === 0) problems.push(`${label.kind} on ${label.lineId}: no readings inside the label interval`);
  return problems;
}

/** Readings covered by no label must be exactly the healthy ones. */
function untouchedProblems(labels: FaultLabel[], faulty: Map<string, Row>, baseline: Map<string, Row>): string[] {
  const problems: string[] = [];
  for (const base of baseline.values()) {
    const now = faulty.get(key(base.deviceId, base.ts));
    if (!now) continue;
    const covered = labels.some((l) => within(l, base.ts) && (l.deviceId ? l.deviceId === base.deviceId : l.lineId === base.lineId));
    if (!covered && (now.voltage !== base.voltage || now.kw !== base.kw)) problems.push(`${base.deviceId} at ${base.ts} changed without a label`);
  }
  return problems.slice(0, 5);
}

describe('interval faults from an explicit schedule', () => {
  const base: SimulatorOptions = { seed: 11, lines: 3, metersPerLine: 10, intervalMs: 30_000, start: MONDAY + 17 * HOUR, durationMs: 4 * HOUR, faults: 'none' };
  const specs: FaultSpec[] = [
    { kind: 'sag', lineId: 'L01', start: iso(18.5), end: iso(18 + 40 / 60) },
    { kind: 'drift', lineId: 'L01', deviceId: 'm-000003', start: iso(19), end: iso(21), params: { voltsPerHour: 0.5 } },
    { kind: 'swell', lineId: 'L02', start: iso(17.5), end: MONDAY + 17.5 * HOUR + 5 * 60_000, params: { deltaV: 8 } },
    { kind: 'stuck', lineId: 'L02', deviceId: 'm-000015', start: iso(18), end: iso(19) },
    { kind: 'failed-regulator', lineId: 'L03', start: iso(18), end: iso(20), params: { taps: 10 } },
  ];
  const options: SimulatorOptions = { ...base, faults: specs };
  const layout = fleetLayout(options);
  const baseline = readingsByKey([...generateMessages(base)]);
  const faulty = readingsByKey([...generateMessages(options)]);
  const labels = faultLabels(options);

  it('labels each fault interval with its resolved parameters, in order of start', () => {
    expect(labels).toEqual([
      { kind: 'swell', lineId: 'L02', start: iso(17.5), end: new Date(MONDAY + 17.5 * HOUR + 5 * 60_000).toISOString(), params: { deltaV: 8 } },
      { kind: 'stuck', lineId: 'L02', deviceId: 'm-000015', start: iso(18), end: iso(19), params: {} },
      { kind: 'failed-regulator', lineId: 'L03', start: iso(18), end: iso(20), params: { taps: 10, deltaV: 7.5 } },
      { kind: 'sag', lineId: 'L01', start: iso(18.5), end: iso(18 + 40 / 60), params: { deltaV: 10 } },
      { kind: 'drift', lineId: 'L01', deviceId: 'm-000003', start: iso(19), end: iso(21), params: { voltsPerHour: 0.5 } },
    ]);
  });

  it.each(['sag', 'swell', 'failed-regulator', 'drift', 'stuck'])('shows %s in the data exactly as labelled', (kind) => {
    const label = labels.find((l) => l.kind === kind)!;
    expect(problemsOf(label, faulty, baseline, layout)).toEqual([]);
  });

  it('drives a sagging line below Range A at its tail, and a swelling one above it at its head', () => {
    const tail = layout[0].meters[9].deviceId;
    const sagging = [...faulty.values()].filter((r) => r.deviceId === tail && within(labels[3], r.ts)).map((r) => r.voltage);
    expect(sagging.length).toBeGreaterThan(15);
    expect(Math.max(...sagging)).toBeLessThan(114);
    const head = layout[1].meters[0].deviceId;
    const swelling = [...faulty.values()].filter((r) => r.deviceId === head && within(labels[0], r.ts)).map((r) => r.voltage);
    expect(Math.min(...swelling)).toBeGreaterThan(126);
  });

  it('lets a drift grow with time', () => {
    const drift = labels[4];
    const diffs = [...faulty.values()]
      .filter((r) => r.deviceId === 'm-000003' && within(drift, r.ts))
      .map((r) => r.voltage - baseline.get(key(r.deviceId, r.ts))!.voltage);
    expect(diffs[0]).toBeLessThan(0.15);
    expect(diffs[diffs.length - 1]).toBeGreaterThan(0.85);
  });

  it('freezes a stuck meter and lets it go at the end of the interval', () => {
    const stuck = [...faulty.values()].filter((r) => r.deviceId === 'm-000015' && within(labels[1], r.ts));
    expect(new Set(stuck.map((r) => r.voltage)).size).toBe(1);
    expect(new Set(stuck.map((r) => r.kw)).size).toBe(1);
    const after = [...faulty.values()].filter((r) => r.deviceId === 'm-000015' && r.ts >= Date.parse(labels[1].end));
    expect(new Set(after.map((r) => r.kw)).size).toBeGreaterThan(10);
  });

  it('changes nothing outside the labelled intervals', () => {
    expect(faulty.size).toBe(baseline.size);
    expect(untouchedProblems(labels, faulty, baseline)).toEqual([]);
  });

  it('refuses a schedule that names what does not exist', () => {
    expect(() => generateMessages({ ...base, faults: [{ kind: 'sag', lineId: 'L09', start: iso(18), end: iso(19) }] })).toThrow(/no line "L09"/);
    expect(() => generateMessages({ ...base, faults: [{ kind: 'stuck', lineId: 'L01', deviceId: 'm-000015', start: iso(18), end: iso(19) }] })).toThrow(/no meter "m-000015" on line "L01"/);
    expect(() => generateMessages({ ...base, faults: [{ kind: 'sag', lineId: 'L01', start: iso(19), end: iso(18) }] })).toThrow(/end must be after start/);
    expect(() => generateMessages({ ...base, faults: [{ kind: 'late', probability: 2 }] })).toThrow(/probability/);
  });
});

describe('message-level faults', () => {
  const base: SimulatorOptions = { seed: 5, lines: 4, metersPerLine: 10, intervalMs: 15_000, start: MONDAY + 8 * HOUR, durationMs: HOUR, faults: 'none' };
  const options: SimulatorOptions = {
    ...base,
    faults: [
      { kind: 'malformed', probability: 0.03 },
      { kind: 'duplicate', probability: 0.02 },
      { kind: 'out-of-order', probability: 0.02 },
      { kind: 'late', probability: 0.01 },
    ],
  };
  const messages = [...generateMessages(options)];
  const labelled = messages.filter((m) => m.label);
  const ofKind = (kind: MessageLabel['kind']) => labelled.filter((m) => m.label!.kind === kind);
  const eventTime = (m: SimMessage): number => Date.parse(JSON.parse(m.payload.toString()).ts);

  it('labels every injected event with the message it hit', () => {
    for (const kind of ['malformed', 'duplicate', 'out-of-order', 'late'] as const) expect(ofKind(kind).length).toBeGreaterThan(5);
    const mislabelled = labelled.filter((m) => m.label!.seq !== m.seq || m.label!.topic !== m.topic || m.label!.lineId !== m.topic.split('/')[1]);
    expect(mislabelled).toEqual([]);
  });

  it('makes every malformed message fail the ingest contract, and only those', () => {
    const verdicts = messages.map((m) => parseReading(m.topic, m.payload, { ingestTime: FAR_FUTURE }).ok);
    expect(messages.filter((m, i) => verdicts[i] !== m.valid).map((m) => m.seq)).toEqual([]);
    expect(messages.filter((m) => !m.valid && m.label?.kind !== 'malformed')).toEqual([]);
    expect(new Set(ofKind('malformed').map((m) => m.label!.reason))).toEqual(new Set(MALFORMED_VARIETIES));
  });

  it('sends duplicates byte-identical to their original, after it', () => {
    for (const copy of ofKind('duplicate')) {
      const original = messages[copy.label!.originalSeq!];
      expect(original.seq).toBeLessThan(copy.seq);
      expect(copy.topic).toBe(original.topic);
      expect(copy.payload.equals(original.payload)).toBe(true);
    }
  });

  it('delivers out-of-order messages within 10 s and late ones minutes late, after later readings of their line', () => {
    // Latest event time sent on each topic before each message.
    const latestBefore: number[] = [];
    const latest = new Map<string, number>();
    for (const m of messages) {
      latestBefore.push(latest.get(m.topic) ?? -Infinity);
      if (m.valid) latest.set(m.topic, Math.max(latest.get(m.topic) ?? -Infinity, eventTime(m)));
    }
    const check = (m: SimMessage, minDelay: number, maxDelay: number) => {
      const ts = eventTime(m);
      const delay = m.simTime - ts;
      const overtaken = latestBefore[m.seq] > ts;
      return delay > minDelay && delay <= maxDelay && overtaken && m.label!.delayMs === delay && m.label!.eventTime === new Date(ts).toISOString();
    };
    expect(ofKind('out-of-order').filter((m) => !check(m, 0, 10_000))).toEqual([]);
    expect(ofKind('late').filter((m) => !check(m, 2 * 60_000 - 1, 10 * 60_000))).toEqual([]);
  });

  it('loses no reading: every healthy reading arrives once, or once malformed', () => {
    const expected = [...readingsByKey([...generateMessages(base)]).keys()].sort();
    const arrived = messages
      .filter((m) => m.label?.kind !== 'duplicate')
      .map((m) => (m.valid ? key(JSON.parse(m.payload.toString()).deviceId, eventTime(m)) : key(m.label!.deviceId!, Date.parse(m.label!.eventTime!))))
      .sort();
    expect(arrived).toEqual(expected);
  });

  it('does not inject out-of-order delivery where nothing on the line could overtake it', () => {
    // One meter per line reporting every 15 s: a delay within 10 s cannot put anything before it.
    const lonely = [...generateMessages({ ...base, metersPerLine: 1, faults: [{ kind: 'out-of-order', probability: 0.5 }] })];
    expect(lonely.filter((m) => m.label)).toEqual([]);
    const ts = lonely.map(eventTime);
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
  });

  it('honours the scope of a spec (line and time window)', () => {
    const scoped = [...generateMessages({ ...base, faults: [{ kind: 'malformed', probability: 0.5, lineId: 'L02', start: MONDAY + 8.5 * HOUR, params: { varieties: ['epoch-seconds'] } }] })];
    const hits = scoped.filter((m) => m.label);
    expect(hits.length).toBeGreaterThan(100);
    expect(hits.filter((m) => m.label!.lineId !== 'L02' || Date.parse(m.label!.eventTime!) < MONDAY + 8.5 * HOUR || m.label!.reason !== 'epoch-seconds')).toEqual([]);
  });
});

describe('the demo profile', () => {
  const base: SimulatorOptions = { seed: 42, lines: 6, metersPerLine: 15, intervalMs: 15_000, start: MONDAY + 6 * HOUR, durationMs: 2 * HOUR, faults: 'none' };
  const options: SimulatorOptions = { ...base, faults: 'demo' };
  const messages = [...generateMessages(options)];
  const labels = faultLabels(options);
  const layout = fleetLayout(options);
  const baseline = readingsByKey([...generateMessages(base)]);
  const faulty = readingsByKey(messages);

  it('schedules one of each interval fault inside the run, without overlaps', () => {
    expect(labels.map((l) => l.kind).sort()).toEqual(['drift', 'failed-regulator', 'sag', 'stuck', 'swell']);
    const end = MONDAY + 8 * HOUR;
    for (let i = 0; i < labels.length; i++) {
      expect(Date.parse(labels[i].start)).toBeGreaterThanOrEqual(options.start);
      expect(Date.parse(labels[i].end)).toBeLessThanOrEqual(end);
      if (i > 0) expect(Date.parse(labels[i].start)).toBeGreaterThanOrEqual(Date.parse(labels[i - 1].end));
    }
  });

  it.each(['sag', 'swell', 'failed-regulator', 'drift', 'stuck'])('makes its %s visible in the data', (kind) => {
    expect(problemsOf(labels.find((l) => l.kind === kind)!, faulty, baseline, layout)).toEqual([]);
  });

  it('changes nothing outside its labels', () => {
    expect(untouchedProblems(labels, faulty, baseline)).toEqual([]);
  });

  it('adds about 0.1 % malformed messages, and some duplicates and out-of-order deliveries', () => {
    const count = (kind: string) => messages.filter((m) => m.label?.kind === kind).length;
    expect(count('malformed') / messages.length).toBeGreaterThan(0.0004);
    expect(count('malformed') / messages.length).toBeLessThan(0.002);
    expect(count('duplicate')).toBeGreaterThan(0);
    expect(count('out-of-order')).toBeGreaterThan(0);
  });

  it('repeats daily with fresh faults on an endless run', () => {
    const endless = faultLabels({ ...options, durationMs: Infinity }, 3 * 24 * HOUR);
    expect(endless).toHaveLength(15);
    expect(new Set(endless.map((l) => l.start)).size).toBe(15);
  });

  it('faults none: no labels and no message events', () => {
    expect(faultLabels(base)).toEqual([]);
    expect([...generateMessages({ ...base, durationMs: HOUR })].filter((m) => m.label || !m.valid)).toEqual([]);
  });
});
