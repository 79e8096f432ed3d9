import { loadConfig } from '@meterstream/config';
import { ratiosToEmbedded, type BackendKind, type PhaseRates } from '../bench-options';
import type { Workload } from '../workload';
import { assertReachable, openBackend } from './backend-logs';
import { backendWorkload } from './backend-workload';
import { measureIngestSources, type IngestSourcesResult } from './ingest-sources';
import { measureBackend, type BackendResult } from './measure-backend';

/** Stage 6 of the bench, as it appears in the JSON under `backends`. */
export type StreamBackendsResult = Partial<Record<BackendKind, BackendResult>> & {
  name: string;
  workload: { readings: number; records: number; lines: number; meters: number; appendBatch: number };
  /** Each other backend's produce / consume / end-to-end rate divided by the embedded log's. */
  ratioToEmbedded: Partial<Record<BackendKind, PhaseRates>>;
  /** With kinesis: the bridge's MQTT input and its IoT-rule raw-stream input into Kinesis, side by side. */
  ingestSources?: IngestSourcesResult;
};

/** Fails with the script that starts the engines when one of `kinds` does not answer. */
export async function assertBackendsReachable(kinds: readonly BackendKind[]): Promise<void> {
  for (const kind of kinds) await assertReachable(kind);
}

/**
 * The same recorded workload through each backend, one after the other in this process (see
 * measureBackend for what is timed). Every backend gets fresh topics/streams and a fresh read
 * model, and is cleaned up before the next starts, so none competes with another for the CPU.
 */
export async function measureStreamBackends(kinds: readonly BackendKind[], workload: Workload, progress: (line: string) => void): Promise<StreamBackendsResult> {
  const input = backendWorkload(workload, loadConfig({}).BRIDGE_BATCH_MAX);
  const measured: Partial<Record<BackendKind, BackendResult>> = {};
  for (const kind of kinds) {
    progress(`${kind}:`);
    const backend = openBackend(kind, (message) => progress(`${kind}: ${message}`));
    try {
      const result = await measureBackend(backend, input, progress);
      measured[kind] = result;
      progress(`${kind}: end to end ${result.endToEnd.readingsPerSec.toLocaleString('en')} readings/s, lost ${result.lost}`);
    } finally {
      await backend.dispose();
    }
  }
  let ingestSources: IngestSourcesResult | undefined;
  if (kinds.includes('kinesis')) {
    progress('ingest sources on kinesis: MQTT vs the IoT rule raw stream');
    ingestSources = await measureIngestSources({ ...workload, readingsPerMessage: 1 }, progress);
  }
  const rates = (r: BackendResult): PhaseRates => ({ produce: r.produce.readingsPerSec, consume: r.consume.readingsPerSec, endToEnd: r.endToEnd.readingsPerSec });
  const others: Partial<Record<BackendKind, PhaseRates>> = {};
  for (const [kind, r] of Object.entries(measured) as [BackendKind, BackendResult][]) if (kind !== 'embedded') others[kind] = rates(r);
  const result: StreamBackendsResult = {
    name:
      `the same ${input.readings.toLocaleString('en')} readings appended to each backend's readings stream in the bridge's batches of ${input.appendBatch}, ` +
      'then the distributed processor to the end (outputs to the same backend, SQLite read model and checkpoints); ' +
      'phases timed one after the other in this process, engines on the same host',
    workload: {
      readings: input.readings,
      records: input.records.length,
      lines: workload.lines,
      meters: workload.lines * workload.metersPerLine,
      appendBatch: input.appendBatch,
    },
    ...measured,
    ratioToEmbedded: measured.embedded ? ratiosToEmbedded(rates(measured.embedded), others) : {},
    ingestSources,
  };
  return result;
}
