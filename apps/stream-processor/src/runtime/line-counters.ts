import type { ProcessorStats } from '@meterstream/processing';
import type { LineCounters } from '@meterstream/read-model';

/**
 * The lines whose late/duplicate totals changed since they were last written to the read model
 * (`written` remembers what was written, per line), so a batch writes only what moved.
 */
export function changedLineCounters(stats: Pick<ProcessorStats, 'lateCounts' | 'duplicateCounts'>, written: Map<string, string>): LineCounters[] {
  const { lateCounts, duplicateCounts } = stats;
  const changed: LineCounters[] = [];
  for (const lineId of new Set([...Object.keys(lateCounts), ...Object.keys(duplicateCounts)])) {
    const counters = { lineId, lateReadings: lateCounts[lineId] ?? 0, duplicateReadings: duplicateCounts[lineId] ?? 0 };
    const key = `${counters.lateReadings}/${counters.duplicateReadings}`;
    if (written.get(lineId) === key) continue;
    written.set(lineId, key);
    changed.push(counters);
  }
  return changed;
}
