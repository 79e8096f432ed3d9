import * as path from 'node:path';
import type { Client } from '@elastic/elasticsearch';
import type { ReadingEnvelope } from '@meterstream/contracts';
import { makeTempDir, readingEnvelope } from '@meterstream/test-harness';
import { ElasticsearchIndexingError, ElasticsearchReadModel } from './elasticsearch';
import {
  answers,
  assertElasticsearchUp,
  deadLetterPages,
  dropPrefix,
  ELASTICSEARCH_URL,
  testClient,
  uniqueIndexPrefix,
  type QueryProbes,
} from './elasticsearch/testing/engine-harness';
import { alertCommands, counterUpdates, deadLetters, FEED_START, HOUR, LINES, manyDeadLetters, realisticFeed, shuffledAlertEvents } from './elasticsearch/testing/realistic-feed';
import type { ReadModelBatch } from './read-model';
import { SqliteReadModel } from './sqlite';

// Engine: bash scripts/engines/elasticsearch.sh (ELASTICSEARCH_URL, default http://127.0.0.1:19200).
const DAY = 24 * HOUR;

const probes: QueryProbes = {
  lineIds: [...LINES, 'L09', 'L10'],
  devices: Object.fromEntries(LINES.map((line) => [line, [`m-${line}-01`, `m-${line}-04`]])),
  ranges: [
    { from: FEED_START - DAY, to: FEED_START + 3 * DAY },
    // Across a midnight: the answer comes from two daily indices.
    { from: Date.parse('2026-11-28T22:10:00.000Z'), to: Date.parse('2026-11-29T01:40:00.000Z') },
  ],
  // 150 is the search page size below: limits on and just past a page boundary (and, in the
  // second range, beyond the rows there are); -1 is "all", as SQLite's LIMIT -1.
  readingLimits: [-1, 0, 1, 150, 151],
};

describe('ElasticsearchReadModel on a real Elasticsearch answers exactly like SqliteReadModel', () => {
  const client: Client = testClient();
  const prefix = uniqueIndexPrefix('parity');
  const tmp = makeTempDir('meterstream-es-parity-');
  const feed = realisticFeed();
  let sqlite: SqliteReadModel;
  let es: ElasticsearchReadModel;

  beforeAll(async () => {
    await assertElasticsearchUp(client);
    sqlite = SqliteReadModel.open(path.join(tmp.dir, 'read-model.db'));
    es = new ElasticsearchReadModel({
      connection: { node: ELASTICSEARCH_URL },
      indexPrefix: prefix,
      indexSettings: { replicas: 0 },
      // Small pages, so every long answer is stitched together from many search_after pages.
      searchPageSize: 150,
      bulkMaxDocuments: 250,
    });
  });

  afterAll(async () => {
    await es?.close();
    await sqlite?.close();
    await dropPrefix(client, prefix);
    await client.close();
    tmp.cleanup();
  });

  async function applyBoth(batch: ReadModelBatch): Promise<void> {
    await sqlite.apply(batch);
    await es.apply(batch);
  }

  async function expectSameAnswers(): Promise<Record<string, unknown>> {
    await es.flush();
    const expected = await answers(sqlite, probes);
    expect(await answers(es, probes)).toEqual(expected);
    return expected;
  }

  async function readingDocuments(): Promise<number> {
    return (await client.count({ index: es.indices.alias('readings'), ignore_unavailable: true, allow_no_indices: true })).count;
  }

  it('answers like SQLite before anything was written (no index exists yet)', async () => {
    const expected = await expectSameAnswers();
    expect(expected['lines()']).toEqual([]);
  });

  it('answers like SQLite after a realistic feed applied batch by batch', async () => {
    for (const batch of feed) await applyBoth(batch);
    const expected = await expectSameAnswers();

    // The comparison is only as good as the data: make sure it has what the rules are about.
    const readings = feed.flatMap((b) => b.readings ?? []);
    expect(readings).toHaveLength(LINES.length * 4 * 6 * 40);
    const alerts = feed.flatMap((b) => b.alerts ?? []);
    expect(new Set(alerts.map((a) => a.body.state))).toEqual(new Set(['raised', 'cleared']));
    expect(feed.flatMap((b) => b.aggregates ?? []).some((a) => a.deviceId !== null)).toBe(true);
    // Every line's CVR hours, each with its meters' minima.
    const cvrHours = feed.flatMap((b) => b.cvrHours ?? []);
    expect(cvrHours.length).toBeGreaterThanOrEqual(LINES.length * 39);
    expect((expected['cvrHours(every line, range 0)'] as unknown[]).length).toBeGreaterThan(0);
    expect((expected['readings(L01, range 0, -1)'] as unknown[]).length).toBe(4 * 6 * 40);
    expect(await readingDocuments()).toBe(readings.length);
    // Three UTC days of readings, one daily index each.
    const indices = (await client.cat.indices({ index: `${prefix}readings-*`, format: 'json', h: 'index' })) as { index: string }[];
    expect(indices.map((i) => i.index).sort()).toEqual([`${prefix}readings-2026.11.27`, `${prefix}readings-2026.11.28`, `${prefix}readings-2026.11.29`]);
  });

  it('changes nothing when batches are applied again, in another order (a replay)', async () => {
    const before = await readingDocuments();
    for (const batch of [...feed].reverse()) await applyBoth(batch);
    // And duplicates inside one batch.
    await applyBoth({ readings: [...(feed[3].readings ?? []), ...(feed[3].readings ?? [])], aggregates: [...(feed[5].aggregates ?? []), ...(feed[5].aggregates ?? [])] });
    await expectSameAnswers();
    expect(await readingDocuments()).toBe(before);
  });

  it('moves alerts only forward when their events arrive out of order, one by one or all at once, and applies operators’ commands alike', async () => {
    const events = shuffledAlertEvents();
    for (const event of events) await applyBoth({ alerts: [event] });
    await expectSameAnswers();
    // The commands, one by one and then all again (a replay), and the events once more after them.
    for (const command of alertCommands()) await applyBoth({ alertCommands: [command] });
    await applyBoth({ alertCommands: alertCommands() });
    await applyBoth({ alerts: [...events].reverse() });
    const expected = await expectSameAnswers();

    const byId = new Map((expected['alerts(any)'] as { alertId: string; state: string; message: string }[]).map((a) => [a.alertId, a]));
    expect(byId.get('alert:L02:a')).toMatchObject({ state: 'cleared', severity: 'critical', closedAt: null });
    expect(byId.get('alert:L02:b')).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'dispatch-ana', note: 'crew on the way', severity: 'critical' });
    expect(byId.get('alert:L02:c')).toMatchObject({ state: 'closed', ruleState: 'raised', reason: 'line stopped reporting', message: 'still frozen, updated' });
    expect(byId.has('alert:L02:zz')).toBe(false);
    expect(expected['line(L09)']).toMatchObject({ lineId: 'L09', latestReadingTime: null, latestWindow: null });
  });

  it('never lowers line counters, keeps the delivery delay measured latest, and a counter update alone creates a line', async () => {
    for (const counters of counterUpdates()) await applyBoth({ lineCounters: counters });
    const expected = await expectSameAnswers();
    expect(expected['line(L01)']).toMatchObject({ lateReadings: 2, duplicateReadings: 9, deliveryDelay: { ewmaMs: 2_000, maxMs: 240_000, measuredAt: FEED_START + 40 * 60_000 } });
    expect(expected['line(L02)']).toMatchObject({ lateReadings: 4, duplicateReadings: 0, deliveryDelay: { ewmaMs: 700, maxMs: 900, measuredAt: FEED_START + 20 * 60_000 } });
    expect(expected['line(L10)']).toMatchObject({ lateReadings: 3, latestReadingTime: null, deliveryDelay: null });
  });

  it('keeps dead letters once each, newest first with ties by id', async () => {
    const letters = deadLetters()!;
    await applyBoth({ deadLetters: letters });
    await applyBoth({ deadLetters: [...letters].reverse() });
    const expected = await expectSameAnswers();
    expect(expected['deadLetterCount()']).toBe(letters.length);
    // Three letters a page (the harness probe): pages end between letters of the same minute.
    expect((expected['deadLetters(3) page by page'] as string[][]).flat()).toEqual((expected['deadLetters(-1)'] as { id: string }[]).map((r) => r.id));
  });

  it('pages through thousands of dead letters from a position like SQLite: each once, in order, across equal receivedAt', async () => {
    const many = manyDeadLetters(3500);
    await applyBoth({ deadLetters: [...many].reverse() });
    await es.flush();
    const total = await sqlite.deadLetterCount();
    expect(total).toBe(many.length + deadLetters()!.length);

    // 1000 a page over a search page size of 150: each page is itself several search_after requests.
    const fromSqlite = await deadLetterPages(sqlite, 1000, 10);
    const fromEs = await deadLetterPages(es, 1000, 10);
    expect(fromEs.map((page) => page.length)).toEqual([1000, 1000, 1000, total - 3000]);
    expect(fromEs).toEqual(fromSqlite);
    expect(fromEs.flat()).toEqual((await sqlite.deadLetters(-1)).map((r) => r.id));
    expect(new Set(fromEs.flat()).size).toBe(total);
    await expectSameAnswers();
  });

  it('prunes readings like SQLite: whole older days dropped, the cutoff day trimmed, lines keep their latest time', async () => {
    const cutoff = Date.parse('2026-11-28T21:37:00.000Z');
    const pruned = await es.pruneReadings(cutoff);
    expect(pruned).toBe(await sqlite.pruneReadings(cutoff));
    expect(pruned).toBeGreaterThan(0);
    await expectSameAnswers();
    const indices = (await client.cat.indices({ index: `${prefix}readings-*`, format: 'json', h: 'index' })) as { index: string }[];
    expect(indices.map((i) => i.index).sort()).toEqual([`${prefix}readings-2026.11.28`, `${prefix}readings-2026.11.29`]);

    // Again at the same cutoff: nothing left to prune. Then exactly at a midnight.
    expect(await es.pruneReadings(cutoff)).toBe(0);
    expect(await sqlite.pruneReadings(cutoff)).toBe(0);
    const midnight = Date.parse('2026-11-29T00:00:00.000Z');
    expect(await es.pruneReadings(midnight)).toBe(await sqlite.pruneReadings(midnight));
    await expectSameAnswers();
  });

  it('prunes readings that were applied but not yet flushed, and takes readings for a dropped day again', async () => {
    const old = readingEnvelope('L01', 'm-L01-09', Date.parse('2026-11-27T12:00:00.000Z'), { voltage: 118.5 });
    await applyBoth({ readings: [old] });
    const cutoff = Date.parse('2026-11-29T00:00:00.000Z');
    expect(await es.pruneReadings(cutoff)).toBe(await sqlite.pruneReadings(cutoff));
    await applyBoth({ readings: [old] });
    await expectSameAnswers();
  });
});

describe('ElasticsearchReadModel index management and refused documents', () => {
  const client: Client = testClient();
  const prefix = uniqueIndexPrefix('schema');
  const logged: string[] = [];
  let es: ElasticsearchReadModel;

  beforeAll(async () => {
    await assertElasticsearchUp(client);
    es = ElasticsearchReadModel.fromConfig(
      {
        ELASTICSEARCH_URL,
        ELASTICSEARCH_INDEX_PREFIX: prefix,
        ELASTICSEARCH_USERNAME: undefined,
        ELASTICSEARCH_PASSWORD: undefined,
        ELASTICSEARCH_API_KEY: undefined,
      },
      { indexSettings: { replicas: 0 }, logger: { warn: (m) => logged.push(m), error: (m) => logged.push(m) } },
    );
  });

  afterAll(async () => {
    await es?.close().catch(() => undefined);
    await dropPrefix(client, prefix);
    await client.close();
  });

  it('migrate() installs strict templates that attach the query aliases, and can run again', async () => {
    await es.assertReachable();
    await es.migrate();
    await es.migrate();
    const templates = await client.indices.getIndexTemplate({ name: `${prefix}*` });
    expect(templates.index_templates.map((t) => t.name).sort()).toEqual([`${prefix}aggregates`, `${prefix}alerts`, `${prefix}cvr-hours`, `${prefix}dead-letters`, `${prefix}lines`, `${prefix}readings`]);
    expect(await client.indices.exists({ index: `${prefix}alerts` })).toBe(true);

    const day = `${prefix}readings-2030.01.01`;
    await client.indices.create({ index: day });
    expect(Object.keys((await client.indices.getAlias({ index: day }))[day].aliases)).toEqual([`${prefix}readings`]);
    await expect(client.index({ index: day, id: 'x', document: { surprise: 1 } })).rejects.toThrow(/strict_dynamic_mapping_exception/);
  });

  it('reports a document the mapping refuses on flush(), once, and still writes the rest', async () => {
    const good = readingEnvelope('L01', 'm-1', FEED_START, { voltage: 120.5 });
    const bad: ReadingEnvelope = { ...good, id: `m-2@${FEED_START}`, body: { ...good.body, deviceId: 'm-2', voltage: 'high' as unknown as number } };
    await es.apply({ readings: [good, bad] });
    const error = await es.flush().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ElasticsearchIndexingError);
    expect((error as ElasticsearchIndexingError).failures).toEqual([
      { index: `${prefix}readings-2026.11.27`, id: `m-2@${FEED_START}`, status: 400, error: expect.stringMatching(/voltage/) },
    ]);
    expect(logged.some((m) => m.includes(`m-2@${FEED_START}`))).toBe(true);
    expect(await es.readings('L01', { from: 0, to: FEED_START + 1 }, 10)).toEqual([expect.objectContaining({ deviceId: 'm-1', voltage: 120.5 })]);
    await expect(es.flush()).resolves.toBeUndefined();
  });

  it('fails loudly, saying how to start it, when Elasticsearch is not there', async () => {
    const nowhere = new ElasticsearchReadModel({ connection: { node: 'http://127.0.0.1:1' }, indexPrefix: prefix });
    await expect(nowhere.assertReachable()).rejects.toThrow(/unreachable .*bash scripts\/engines\/elasticsearch\.sh/);
    await nowhere.close();
  });
});
