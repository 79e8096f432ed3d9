import type { MalformedVariety } from './fault-spec';

/** The wire form of a reading, in the key order meters publish it. */
export interface ReadingPayload {
  deviceId: string;
  lineId: string;
  ts: string;
  voltage: number;
  current: number;
  powerFactor: number;
  kw: number;
  kwh: number;
}

/**
 * The bytes of a broken version of `reading`, each variety a mistake real devices make. Every
 * one of them breaks the v1 contract, so ingest must dead-letter it.
 */
export function malformedPayload(reading: ReadingPayload, variety: MalformedVariety, otherLineId: string): Buffer {
  switch (variety) {
    case 'invalid-json': {
      // A message cut short in transit.
      const text = JSON.stringify(reading);
      return Buffer.from(text.slice(0, Math.floor(text.length / 2)));
    }
    case 'missing-voltage': {
      const { voltage: _voltage, ...rest } = reading;
      return json(rest);
    }
    case 'voltage-string':
      return json({ ...reading, voltage: reading.voltage.toFixed(1) });
    case 'unparseable-ts':
      // Local-format clock string without a time zone: a classic firmware mistake.
      return json({ ...reading, ts: formatLocal(reading.ts) });
    case 'lineid-mismatch':
      return json({ ...reading, lineId: otherLineId });
    case 'epoch-seconds':
      return json({ ...reading, ts: Math.floor(Date.parse(reading.ts) / 1000) });
    case 'non-object':
      // A device that sends its values as a bare array.
      return json([reading.deviceId, reading.ts, reading.voltage]);
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** "2026-11-29T05:00:00.000Z" → "29/11/2026 05:00:00". */
function formatLocal(iso: string): string {
  return `${iso.slice(8, 10)}/${iso.slice(5, 7)}/${iso.slice(0, 4)} ${iso.slice(11, 19)}`;
}
