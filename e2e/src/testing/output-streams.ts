import { STREAMS } from '@meterstream/contracts';
import type { StreamLog } from '@meterstream/stream';

/**
 * Every record of the processor's output streams (aggregates, alerts, late readings), grouped by
 * `keyOf(stream, partition, key)`, each list in log order: what the scale-out tests compare with a
 * single-instance run.
 */
export async function outputStreams(log: StreamLog, keyOf: (stream: string, partition: string, key: string) => string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const stream of [STREAMS.aggregates, STREAMS.alerts, STREAMS.lateReadings]) {
    for (const partition of await log.partitions(stream)) {
      let after: string | null = null;
      for (;;) {
        const records = await log.read(stream, partition, after, 10_000);
        if (records.length === 0) break;
        for (const r of records) (out[keyOf(stream, partition, r.key)] ??= []).push(r.value.toString());
        after = records[records.length - 1].position;
      }
    }
  }
  return out;
}
