import { parseReading } from '@meterstream/contracts';
import { fleetLayout } from '../fleet/fleet-layout';
import type { SimulatorOptions } from '../options';
import { faultLabels, generateMessages, type SimMessage } from './generate-messages';

const MONDAY = Date.parse('2026-11-30T00:00:00Z');
const HOUR = 3_600_000;

interface Row {
  seq: number;
  lineId: string;
  deviceId: string;
  ts: number;
  voltage: number;
  current: number;
  powerFactor: number;
  kw: number;
  kwh: number;
}

function healthy(overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return { seed: 7, lines: 4, metersPerLine: 12, intervalMs: 120_000, start: MONDAY, durationMs: 24 * HOUR, faults: 'none', ...overrides };
}

function rows(messages: Iterable<SimMessage>): Row[] {
  const out: Row[] = [];
  for (const m of messages) {
    if (!m.valid) continue;
    const json = JSON.parse(m.payload.toString());
    out.push({ ...json, seq: m.seq, ts: Date.parse(json.ts) });
  }
  return out;
}

function fingerprint(messages: Iterable<SimMessage>): string {
  const parts: string[] = [];
  for (const m of messages) parts.push(`${m.seq}|${m.topic}|${m.simTime}|${m.payload.toString('base64')}`);
  return parts.join('\n');
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
const hourOf = (ts: number): number => ((ts - MONDAY) % (24 * HOUR)) / HOUR;

describe('generateMessages: determinism', () => {
  const options = healthy({ lines: 3, metersPerLine: 8, intervalMs: 15_000, durationMs: 2 * HOUR, faults: 'demo' });

  it('gives byte-identical output for the same options and seed', () => {
    expect(fingerprint(generateMessages(options))).toBe(fingerprint(generateMessages({ ...options })));
  });

  it('gives different output for a different seed', () => {
    const a = [...generateMessages(options)].slice(0, 50).map((m) => m.payload.toString());
    const b = [...generateMessages({ ...options, seed: 8 })].slice(0, 50).map((m) => m.payload.toString());
    expect(a).not.toEqual(b);
  });

  it('numbers messages 0, 1, 2, … in send order and never sends before the event time', () => {
    const messages = [...generateMessages(options)];
    expect(messages.filter((m, i) => m.seq !== i)).toEqual([]);
    expect(messages.filter((m, i) => i > 0 && m.simTime < messages[i - 1].simTime)).toEqual([]);
    expect(rows(messages).filter((r) => messages[r.seq].simTime < r.ts)).toEqual([]);
  });

  it('is lazy, so an endless run can be consumed piecemeal', () => {
    const endless = generateMessages({ ...options, durationMs: Infinity });
    const first = Array.from({ length: 100 }, () => endless.next().value as SimMessage);
    expect(first.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(faultLabels({ ...options, durationMs: Infinity }).length).toBeGreaterThan(0);
  });
});

describe('generateMessages: a healthy fleet over a simulated day', () => {
  const options = healthy();
  const messages = [...generateMessages(options)];
  const data = rows(messages);
  const layout = fleetLayout(options);

  it('reports every meter once per interval, from the start up to (not including) the end', () => {
    expect(messages).toHaveLength(4 * 12 * 24 * 30);
    expect(data).toHaveLength(messages.length);
    expect(Math.min(...data.map((r) => r.ts))).toBeGreaterThanOrEqual(MONDAY);
    expect(Math.max(...data.map((r) => r.ts))).toBeLessThan(MONDAY + 24 * HOUR);
    const perMeter = new Map<string, number>();
    for (const r of data) perMeter.set(r.deviceId, (perMeter.get(r.deviceId) ?? 0) + 1);
    expect(new Set(perMeter.values())).toEqual(new Set([24 * 30]));
  });

  it('keeps every reading inside ANSI Range A (114–126 V), noise included', () => {
    const volts = data.map((r) => r.voltage);
    expect(Math.min(...volts)).toBeGreaterThanOrEqual(114);
    expect(Math.max(...volts)).toBeLessThanOrEqual(126);
  });

  it('stays inside Range A whatever the seed (bus setpoint, drop and offsets all vary with it)', () => {
    const outside: Row[] = [];
    for (let seed = 100; seed < 106; seed++) {
      for (const r of rows(generateMessages(healthy({ seed, lines: 6, metersPerLine: 20, intervalMs: 20 * 60_000 })))) {
        if (r.voltage < 114 || r.voltage > 126) outside.push(r);
      }
    }
    expect(outside).toEqual([]);
  });

  it('puts the tail of each line several volts below its head at the evening peak', () => {
    for (const line of layout) {
      const head = line.meters[0].deviceId;
      const tail = line.meters[line.meters.length - 1].deviceId;
      const peak = (id: string) => mean(data.filter((r) => r.deviceId === id && hourOf(r.ts) >= 18.5 && hourOf(r.ts) < 19.5).map((r) => r.voltage));
      expect(peak(head) - peak(tail)).toBeGreaterThan(3);
      expect(peak(tail)).toBeGreaterThan(114);
      expect(peak(tail)).toBeLessThan(119);
    }
  });

  it('lowers voltage when load rises: every meter reads less at the evening peak than at night', () => {
    for (const line of layout) {
      for (const { deviceId } of line.meters) {
        const mine = data.filter((r) => r.deviceId === deviceId);
        const night = mean(mine.filter((r) => hourOf(r.ts) >= 2 && hourOf(r.ts) < 4).map((r) => r.voltage));
        const evening = mean(mine.filter((r) => hourOf(r.ts) >= 18.5 && hourOf(r.ts) < 19.5).map((r) => r.voltage));
        expect(evening).toBeLessThan(night);
      }
    }
  });

  it('keeps the electrical quantities consistent: I = kW·1000 / (V·pf), a rising kWh register', () => {
    const lastKwh = new Map<string, number>();
    const wrong: Array<Row & { why: string }> = [];
    for (const r of data) {
      if (r.powerFactor < 0.9 || r.powerFactor > 0.99) wrong.push({ ...r, why: 'power factor' });
      // Rounded inputs: allow 0.5 % on the current.
      const current = (r.kw * 1000) / (r.voltage * r.powerFactor);
      if (Math.abs(r.current - current) > 0.005 * current + 0.01) wrong.push({ ...r, why: 'current' });
      const previous = lastKwh.get(r.deviceId);
      // Two minutes at r.kw kW, give or take the rounding of both registers.
      if (previous !== undefined && Math.abs(r.kwh - previous - r.kw / 30) > 0.0015) wrong.push({ ...r, why: 'kwh' });
      if (Math.abs(r.voltage * 10 - Math.round(r.voltage * 10)) > 1e-9) wrong.push({ ...r, why: 'voltage not rounded to 0.1 V' });
      lastKwh.set(r.deviceId, r.kwh);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('publishes v1 readings that the ingest contract accepts, on the line topic they name', () => {
    const rejected = messages.slice(0, 5000).filter((m) => !parseReading(m.topic, m.payload, { ingestTime: Date.parse('2100-01-01T00:00:00Z') }).ok);
    expect(rejected).toEqual([]);
    const mismatched = data.filter((r) => messages[r.seq].topic !== `line/${r.lineId}/SmartMeterData`);
    expect(mismatched).toEqual([]);
  });

  it('encodes payloads exactly as JSON.stringify would, in the contract\'s field order', () => {
    const differing = messages.slice(0, 3000).filter((m) => {
      const text = m.payload.toString();
      const { deviceId, lineId, ts, voltage, current, powerFactor, kw, kwh } = JSON.parse(text);
      return text !== JSON.stringify({ deviceId, lineId, ts, voltage, current, powerFactor, kw, kwh });
    });
    expect(differing).toEqual([]);
  });

  it('sends nothing for a zero-length run', () => {
    expect([...generateMessages({ ...options, durationMs: 0, faults: 'demo' })]).toEqual([]);
    expect(faultLabels({ ...options, durationMs: 0, faults: 'demo' })).toEqual([]);
  });

  it('names lines L01, L02, … by default and accepts a custom format', () => {
    expect(layout.map((l) => l.lineId)).toEqual(['L01', 'L02', 'L03', 'L04']);
    expect(fleetLayout({ ...options, lines: 100 })[99].lineId).toBe('L100');
    expect(fleetLayout({ ...options, lines: 100 })[0].lineId).toBe('L001');
    expect(fleetLayout({ ...options, lineIdFormat: (i) => `feeder-${i}` }).map((l) => l.lineId)).toEqual(['feeder-0', 'feeder-1', 'feeder-2', 'feeder-3']);
  });

  it('rejects options it cannot simulate', () => {
    expect(() => generateMessages({ ...options, lines: 0 })).toThrow(/lines/);
    expect(() => generateMessages({ ...options, intervalMs: 0 })).toThrow(/intervalMs/);
    expect(() => generateMessages({ ...options, lineIdFormat: () => 'same' })).toThrow(/twice/);
    expect(() => generateMessages({ ...options, lineIdFormat: (i) => `bad/${i}` })).toThrow(/valid line id/);
  });
});
