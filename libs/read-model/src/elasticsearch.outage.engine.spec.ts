import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@elastic/elasticsearch';
import { makeTempDir } from '@meterstream/test-harness';
import { ElasticsearchReadModel } from './elasticsearch';
import { answers, assertElasticsearchUp, dropPrefix, ELASTICSEARCH_URL, testClient, uniqueIndexPrefix } from './elasticsearch/testing/engine-harness';
import { FEED_START, HOUR, LINES, realisticFeed } from './elasticsearch/testing/realistic-feed';
import type { ReadModelBatch } from './read-model';
import { SqliteReadModel } from './sqlite';

// Engine: bash scripts/engines/elasticsearch.sh (ELASTICSEARCH_URL, default http://127.0.0.1:19200).
// This suite stops that Elasticsearch for 30 s and starts it again with the same script.
const SCRIPT = path.resolve(__dirname, '../../../scripts/engines/elasticsearch.sh');
const OUTAGE_MS = 30_000;
const run = promisify(execFile);

async function engine(command: 'stop' | 'start'): Promise<void> {
  const env = { ...process.env, ELASTICSEARCH_PORT: new URL(ELASTICSEARCH_URL).port || '9200' };
  await run('bash', command === 'stop' ? [SCRIPT, 'stop'] : [SCRIPT], { env, timeout: 240_000 });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  const wrapped = promise.finally(() => (settled = true));
  wrapped.catch(() => undefined); // observed below; never an unhandled rejection meanwhile
  return { promise: wrapped, settled: () => settled };
}

describe('ElasticsearchReadModel through an Elasticsearch outage', () => {
  const client: Client = testClient();
  const prefix = uniqueIndexPrefix('outage');
  const tmp = makeTempDir('meterstream-es-outage-');
  const warnings: string[] = [];
  let sqlite: SqliteReadModel;
  let es: ElasticsearchReadModel;

  beforeAll(async () => {
    await assertElasticsearchUp(client);
    sqlite = SqliteReadModel.open(path.join(tmp.dir, 'read-model.db'));
    es = new ElasticsearchReadModel({
      connection: { node: ELASTICSEARCH_URL, requestTimeoutMs: 10_000 },
      indexPrefix: prefix,
      indexSettings: { replicas: 0 },
      maxBufferedDocuments: 1_500,
      retryMaxDelayMs: 2_000,
      logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
  });

  afterAll(async () => {
    await es?.close();
    await sqlite?.close();
    await dropPrefix(client, prefix);
    await client.close();
    tmp.cleanup();
  });

  it('keeps taking batches while the cluster is down, flush() waits it out, and every document ends up there exactly once', async () => {
    const feed = realisticFeed(11);
    const applyBoth = async (batch: ReadModelBatch) => {
      await sqlite.apply(batch);
      await es.apply(batch);
    };
    const before = feed.slice(0, 8);
    const duringFits = feed.slice(8, 12);
    const duringOverflows = feed.slice(12);
    // Replayed while down too: the writer must not count them twice.
    duringOverflows.push(feed[9], feed[2]);

    for (const batch of before) await applyBoth(batch);
    await es.flush();

    await engine('stop');
    const outageStart = Date.now();
    let flushing: ReturnType<typeof tracked<void>> | undefined;
    let overflowing: ReturnType<typeof tracked<void>> | undefined;
    try {
      await expect(client.cluster.health({}, { maxRetries: 0, requestTimeout: 2_000 })).rejects.toThrow();

      // Room in the buffer: apply returns although nothing can be written.
      const fits = tracked(
        (async () => {
          for (const batch of duringFits) await applyBoth(batch);
        })(),
      );
      await Promise.race([fits.promise, sleep(15_000)]);
      expect(fits.settled()).toBe(true);

      flushing = tracked(es.flush());
      // More than the buffer holds: apply waits (back-pressure) instead of growing without bound.
      overflowing = tracked(
        (async () => {
          for (const batch of duringOverflows) await applyBoth(batch);
        })(),
      );
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)));
      expect(flushing.settled()).toBe(false);
      expect(overflowing.settled()).toBe(false);
    } finally {
      await engine('start');
    }

    await flushing.promise;
    await overflowing.promise;
    await es.flush();
    expect(warnings.some((w) => w.includes('retrying with backoff'))).toBe(true);

    // Exactly once, by id: every reading, window and alert of the feed, no more, no fewer.
    const applied = feed;
    const readingIds = new Set(applied.flatMap((b) => (b.readings ?? []).map((r) => r.id)));
    const stored: string[] = [];
    for (const lineId of LINES) {
      stored.push(...(await es.readings(lineId, { from: FEED_START - HOUR, to: FEED_START + 48 * HOUR }, -1)).map((r) => r.id));
    }
    expect(stored).toHaveLength(readingIds.size);
    expect(new Set(stored)).toEqual(readingIds);
    const count = async (index: string) => (await client.count({ index })).count;
    expect(await count(es.indices.alias('readings'))).toBe(readingIds.size);
    expect(await count(es.indices.alias('aggregates'))).toBe(new Set(applied.flatMap((b) => (b.aggregates ?? []).map((a) => a.id))).size);
    expect(await count(es.indices.single('alerts'))).toBe(new Set(applied.flatMap((b) => (b.alerts ?? []).map((a) => a.body.alertId))).size);

    // And the same answers as the model that never saw an outage.
    const probes = { lineIds: LINES, devices: {}, ranges: [{ from: FEED_START - HOUR, to: FEED_START + 48 * HOUR }], readingLimits: [-1, 7] };
    expect(await answers(es, probes)).toEqual(await answers(sqlite, probes));
  }, 360_000);
});
