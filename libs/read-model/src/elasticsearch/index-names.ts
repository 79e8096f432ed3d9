/**
 * Where each kind of read-model document lives. Readings and aggregates grow without bound, so
 * they go to one index per UTC day (by event time / window start): pruning old readings then
 * drops whole indices instead of deleting documents one by one. The small, mutable collections
 * (alerts, dead letters, line counters) are one index each. Queries go through the aliases the
 * index templates attach to every daily index, never through wildcards, so two deployments whose
 * prefixes nest (`ms-` and `ms-readings-`) cannot read each other's data.
 */
export type DailyKind = 'readings' | 'aggregates';
export type SingleKind = 'alerts' | 'dead-letters' | 'lines' | 'cvr-hours';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Characters Elasticsearch forbids in index names (plus upper case, checked separately). */
const FORBIDDEN = /[\\/*?"<>| ,#:]/;

export class IndexNames {
  constructor(readonly prefix: string) {
    assertValidIndexPrefix(prefix);
  }

  /** `${prefix}readings-2026.11.29`: the daily index holding a document of that day (UTC). */
  daily(kind: DailyKind, time: number): string {
    return `${this.prefix}${kind}-${utcDay(time)}`;
  }

  /** The alias every daily index of a kind joins (through its index template). */
  alias(kind: DailyKind): string {
    return `${this.prefix}${kind}`;
  }

  /** The pattern the index template of a daily kind matches. */
  dailyPattern(kind: DailyKind): string {
    return `${this.prefix}${kind}-*`;
  }

  single(kind: SingleKind): string {
    return `${this.prefix}${kind}`;
  }

  /** The first instant of the day a daily index holds, or undefined when the name is not one of ours. */
  dayStartOf(kind: DailyKind, index: string): number | undefined {
    const head = `${this.prefix}${kind}-`;
    if (!index.startsWith(head)) return undefined;
    const match = /^(\d{4})\.(\d{2})\.(\d{2})$/.exec(index.slice(head.length));
    if (!match) return undefined;
    const start = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
    // Date.UTC rolls 2026.02.31 over to March: such a name is not one we would have written.
    return utcDay(start) === index.slice(head.length) ? start : undefined;
  }

  /** True when every document a daily index can hold is older than the cutoff. */
  wholeDayBefore(kind: DailyKind, index: string, cutoff: number): boolean {
    const start = this.dayStartOf(kind, index);
    return start !== undefined && start + DAY_MS <= cutoff;
  }
}

/** `2026.11.29` for any instant of that UTC day. */
export function utcDay(time: number): string {
  if (!Number.isFinite(time)) throw new RangeError(`cannot place a document at time ${String(time)} in a daily index`);
  return new Date(time).toISOString().slice(0, 10).replace(/-/g, '.');
}

/** Throws a message naming the rule when the prefix would make invalid or hidden index names. */
export function assertValidIndexPrefix(prefix: string): void {
  const problems: string[] = [];
  if (prefix !== prefix.toLowerCase()) problems.push('must be lower case');
  if (FORBIDDEN.test(prefix)) problems.push('must not contain \\ / * ? " < > | space , # :');
  if (/^[-_+.]/.test(prefix)) problems.push('must not start with -, _, + or . (a dot makes hidden/system indices)');
  if (Buffer.byteLength(prefix) > 200) problems.push('must be at most 200 bytes (index names are limited to 255)');
  if (problems.length > 0) throw new Error(`invalid ELASTICSEARCH_INDEX_PREFIX "${prefix}": ${problems.join('; ')}`);
}
