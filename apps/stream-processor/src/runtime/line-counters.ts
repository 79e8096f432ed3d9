import type { LineFigures } from '@meterstream/processing';
import type { LineCounters } from '@meterstream/read-model';

/**
 * The lines whose late/duplicate totals or delivery delay changed since they were last written to
 * the read model (`written` remembers what was written, per line), so a batch writes only what
 * moved. The delay is measured at the arrival of the line's latest reading (`lastIngestTime`): a
 * stream time, the same in a replay, by which the read model keeps the newest figure.
 */
export function changedLineCounters(lines: readonly LineFigures[], written: Map<string, string>): LineCounters[] {
  const changed: LineCounters[] = [];
  for (const line of lines) {
    const { lineId } = line;
    const counters: LineCounters = { lineId, lateReadings: line.late, duplicateReadings: line.duplicates };
    if (Number.isFinite(line.deliveryDelayMs) && Number.isFinite(line.deliveryDelayMaxMs)) {
      counters.deliveryDelay = { ewmaMs: line.deliveryDelayMs, maxMs: line.deliveryDelayMaxMs, measuredAt: line.lastIngestTime };
    }
    const delay = counters.deliveryDelay;
    const key = `${counters.lateReadings}/${counters.duplicateReadings}/${delay ? `${delay.ewmaMs}/${delay.maxMs}/${delay.measuredAt}` : ''}`;
    if (written.get(lineId) === key) continue;
    written.set(lineId, key);
    changed.push(counters);
  }
  return changed;
}
