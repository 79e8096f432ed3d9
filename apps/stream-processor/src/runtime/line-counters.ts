import type { ProcessorStats } from '@meterstream/processing';
import type { LineCounters } from '@meterstream/read-model';

/**
 * The lines whose late/duplicate totals or delivery delay changed since they were last written to
 * the read model (`written` remembers what was written, per line), so a batch writes only what
 * moved. The delay is measured at the arrival of the line's latest reading (`lastIngestTime`): a
 * stream time, the same in a replay, by which the read model keeps the newest figure.
 */
export function changedLineCounters(stats: Pick<ProcessorStats, 'lateCounts' | 'duplicateCounts' | 'lineClocks'>, written: Map<string, string>): LineCounters[] {
  const { lateCounts, duplicateCounts, lineClocks = {} } = stats;
  const changed: LineCounters[] = [];
  for (const lineId of new Set([...Object.keys(lateCounts), ...Object.keys(duplicateCounts), ...Object.keys(lineClocks)])) {
    const counters: LineCounters = { lineId, lateReadings: lateCounts[lineId] ?? 0, duplicateReadings: duplicateCounts[lineId] ?? 0 };
    const clock = lineClocks[lineId];
    if (clock !== undefined && Number.isFinite(clock.deliveryDelayMs) && Number.isFinite(clock.deliveryDelayMaxMs)) {
      counters.deliveryDelay = { ewmaMs: clock.deliveryDelayMs, maxMs: clock.deliveryDelayMaxMs, measuredAt: clock.lastIngestTime };
    }
    const delay = counters.deliveryDelay;
    const key = `${counters.lateReadings}/${counters.duplicateReadings}/${delay ? `${delay.ewmaMs}/${delay.maxMs}/${delay.measuredAt}` : ''}`;
    if (written.get(lineId) === key) continue;
    written.set(lineId, key);
    changed.push(counters);
  }
  return changed;
}
