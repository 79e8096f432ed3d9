import { encodeEnvelope, parseReading } from '@meterstream/contracts';
import type { AppendRecord } from '@meterstream/stream';
import { closingMessages, workloadReadings, type Workload } from '../workload';

/** The input of the stream-backend stage: what the bridge would append for a workload. */
export interface BackendWorkload {
  /** The workload's readings, then one closing reading per meter (see closingMessages). */
  records: AppendRecord[];
  /** Readings of the workload itself (the closing ones excluded): what the windows must account for. */
  readings: number;
  /** Records per append, as the bridge appends one MQTT batch (BRIDGE_BATCH_MAX). */
  appendBatch: number;
}

/**
 * Records the workload once, as the bridge appends it (keyed by line, encoded envelopes), so every
 * backend gets the very same bytes in the same order.
 */
export function backendWorkload(workload: Workload, appendBatch: number): BackendWorkload {
  const ingestTime = Date.now();
  const readings = workloadReadings(workload);
  const records = [...readings, ...closingMessages(workload)].map((m): AppendRecord => {
    const parsed = parseReading(m.topic, m.payload, { ingestTime, maxFutureSkewMs: Number.MAX_SAFE_INTEGER });
    if (!parsed.ok) throw new Error(`workload reading rejected: ${JSON.stringify(parsed.errors)}`);
    return { key: parsed.envelope.lineId, value: encodeEnvelope(parsed.envelope) };
  });
  return { records, readings: readings.length, appendBatch };
}
