/**
 * The bench's choices that are more than a number: which stages run (`--only`) and which stream
 * backends stage 6 measures (`--backends`). Pure, so they are tested without engines.
 */

/** The stages of `npm run bench`, in the order they run. */
export const STAGES = ['baseline', 'core', 'model', 'broker', 'direct', 'concentrator', 'backends'] as const;
export type Stage = (typeof STAGES)[number];

export const BACKENDS = ['embedded', 'kafka', 'kinesis'] as const;
export type BackendKind = (typeof BACKENDS)[number];

function list(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v.length > 0);
}

/** `--only core,backends` → those stages; absent → every stage. Rejects unknown names. */
export function parseStages(value: string | undefined): Set<Stage> {
  if (value === undefined) return new Set(STAGES);
  const names = list(value);
  const unknown = names.filter((n) => !(STAGES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(`--only takes a comma-separated list of ${STAGES.join(', ')}; got "${value}"`);
  }
  return new Set(names as Stage[]);
}

/**
 * `--backends kafka,kinesis` → the backends to measure, embedded always first: the other figures
 * are reported as ratios to it, which only means something when it ran in the same process on the
 * same machine minutes apart. Duplicates collapse; unknown names are rejected.
 */
export function parseBackends(value: string): BackendKind[] {
  const names = list(value);
  const unknown = names.filter((n) => !(BACKENDS as readonly string[]).includes(n));
  if (unknown.length > 0) throw new Error(`--backends takes a comma-separated list of ${BACKENDS.join(', ')}; unknown: ${unknown.join(', ')}`);
  return BACKENDS.filter((b) => b === 'embedded' || names.includes(b));
}

export interface PhaseRates {
  produce: number;
  consume: number;
  endToEnd: number;
}

/** Each non-embedded backend's rates divided by the embedded log's, rounded to 3 decimals. */
export function ratiosToEmbedded(embedded: PhaseRates, others: Partial<Record<BackendKind, PhaseRates>>): Partial<Record<BackendKind, PhaseRates>> {
  const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
  const out: Partial<Record<BackendKind, PhaseRates>> = {};
  for (const [kind, rates] of Object.entries(others) as [BackendKind, PhaseRates][]) {
    if (kind === 'embedded') continue;
    out[kind] = {
      produce: ratio(rates.produce, embedded.produce),
      consume: ratio(rates.consume, embedded.consume),
      endToEnd: ratio(rates.endToEnd, embedded.endToEnd),
    };
  }
  return out;
}
