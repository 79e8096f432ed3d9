/** Command-line spellings of durations and instants: 15s, 5m, 1h30m, 7d; now, now-1h, ISO-8601. */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/** "15s" → 15000, "1h30m" → 5400000, "forever" → Infinity (when allowed). */
export function parseDuration(text: string, options: { allowForever?: boolean } = {}): number {
  const value = text.trim().toLowerCase();
  if (options.allowForever && (value === 'forever' || value === 'infinity')) return Infinity;
  if (value === '0') return 0;
  const compact = value.replace(/\s+/g, '');
  let total = 0;
  let consumed = 0;
  for (const match of compact.matchAll(PART)) {
    if (match.index !== consumed) break;
    total += Number(match[1]) * UNIT_MS[match[2]];
    consumed += match[0].length;
  }
  if (consumed === 0 || consumed !== compact.length) {
    throw new Error(`"${text}" is not a duration: use a number with a unit, e.g. 500ms, 15s, 5m, 1h, 7d or 1h30m${options.allowForever ? ', or forever' : ''}`);
  }
  return Math.round(total);
}

/**
 * "now", "now-1h", "now+5m", an ISO-8601 time or epoch milliseconds → epoch ms. Relative times are
 * aligned down to a whole `alignMs` so readings land on tidy interval boundaries.
 */
export function parseStart(text: string, now: number, alignMs = 1): number {
  const value = text.trim();
  const relative = /^now(?:\s*([+-])\s*(.+))?$/i.exec(value);
  if (relative) {
    const offset = relative[1] ? parseDuration(relative[2]) * (relative[1] === '-' ? -1 : 1) : 0;
    return Math.floor((now + offset) / alignMs) * alignMs;
  }
  if (/^\d+$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new Error(`"${text}" is not a start time: use now, now-1h, an ISO-8601 time or epoch milliseconds`);
  // A time without a zone would depend on the machine's zone; the simulator lives in UTC.
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(value)) throw new Error(`"${text}" needs a time zone, e.g. 2026-11-29T05:00:00Z`);
  return ms;
}

/** 5400000 → "1h30m", 15000 → "15s", Infinity → "forever". */
export function formatDuration(ms: number): string {
  if (ms === Infinity) return 'forever';
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  const parts: string[] = [];
  for (const unit of ['d', 'h', 'm', 's', 'ms']) {
    const size = UNIT_MS[unit];
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('');
}
