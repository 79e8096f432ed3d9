/**
 * Times in query parameters: ISO-8601 (a date, or a date-time with Z or an offset) or epoch
 * milliseconds. Times in responses: ISO-8601 UTC strings. Stored times are epoch milliseconds.
 */

/** Largest |epoch ms| a JavaScript Date can hold. */
const MAX_EPOCH_MS = 8.64e15;

const EPOCH_MS = /^-?\d{1,16}$/;
// A date, or a date-time that says its zone: a local time without one would depend on the server.
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?([Zz]|[+-]\d{2}:?\d{2}))?$/;

/** Parses a time query parameter to epoch ms; undefined when it is neither form (or not a real date). */
export function parseTimeParam(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (EPOCH_MS.test(text)) {
    const ms = Number(text);
    return Math.abs(ms) <= MAX_EPOCH_MS ? ms : undefined;
  }
  // An unescaped "+" in a query string arrives as a space: "05:00:00 05:30" meant "+05:30".
  const match = ISO_8601.exec(text.replace(/ (\d{2}:?\d{2})$/, '+$1'));
  if (!match) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '0', zone = 'Z'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = Math.floor(Number(`0.${fraction}`) * 1000);
  // Not Date.UTC: it reads years 0-99 as 1900-1999, and 0001-01-01T00:00:00Z is a valid date-time.
  const check = new Date(0);
  check.setUTCFullYear(year, month - 1, day);
  check.setUTCHours(hour, minute, second, ms);
  // 2026-02-30 would roll over into March; a date that does not exist is rejected instead.
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  const epoch = check.getTime() - zoneOffsetMs(zone);
  return Number.isFinite(epoch) && Math.abs(epoch) <= MAX_EPOCH_MS ? epoch : undefined;
}

function zoneOffsetMs(zone: string): number {
  if (zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const [hours, minutes] = [Number(digits.slice(0, 2)), Number(digits.slice(2))];
  if (hours > 23 || minutes > 59) return NaN;
  return sign * (hours * 60 + minutes) * 60_000;
}

export function toIso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

export function toIsoOrNull(epochMs: number | null): string | null {
  return epochMs === null ? null : toIso(epochMs);
}
