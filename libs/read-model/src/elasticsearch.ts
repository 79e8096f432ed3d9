import { errors, type Client, type estypes } from '@elastic/elasticsearch';
import type { LineHourFigures } from '@meterstream/cvr';
import type { ReadModelConfig } from '@meterstream/config';
import { BulkWriter, type BulkWriterOptions, type WriteOperation } from './elasticsearch/bulk-writer';
import { createElasticsearchClient, type ElasticsearchConnection } from './elasticsearch/client';
import {
  documentId,
  lineDeltaFromCounters,
  readingDocumentId,
  toAggregateDocument,
  toAlertDocument,
  toAlertRow,
  toDeadLetterDocument,
  toReadingDocument,
  type AlertDocument,
  type LineDelta,
  type LineDocument,
} from './elasticsearch/documents';
import { IndexNames, type SingleKind } from './elasticsearch/index-names';
import { indexTemplates, MAPPINGS, type IndexSettings } from './elasticsearch/mappings';
import { describeRequestError } from './elasticsearch/retry';
import type {
  AggregateQuery,
  AggregateRow,
  AlertQuery,
  AlertRow,
  DeadLetterPosition,
  DeadLetterRow,
  LineSummary,
  ReadModel,
  ReadModelBatch,
  ReadingRow,
  TimeRange,
} from './read-model';

export { ElasticsearchIndexingError, type IndexingFailure, type WriterLogger } from './elasticsearch/bulk-writer';
export { COMPATIBILITY_HEADERS, createElasticsearchClient, type ElasticsearchConnection } from './elasticsearch/client';
export { IndexNames } from './elasticsearch/index-names';
export type { IndexSettings } from './elasticsearch/mappings';

export interface ElasticsearchReadModelOptions extends BulkWriterOptions {
  /** Where and how to connect; ignored when `client` is given. */
  connection?: ElasticsearchConnection;
  /** A ready client (its owner closes it); otherwise one is built from `connection`. */
  client?: Client;
  /** Prefix of every index, alias and template (default `meterstream-`). */
  indexPrefix?: string;
  /** Shards and replicas of the indices the templates create. */
  indexSettings?: IndexSettings;
  /** Hits per search request when a query returns many rows (at most 10 000). Default 5 000. */
  searchPageSize?: number;
}

type ElasticsearchConfig = Pick<
  ReadModelConfig,
  'ELASTICSEARCH_URL' | 'ELASTICSEARCH_USERNAME' | 'ELASTICSEARCH_PASSWORD' | 'ELASTICSEARCH_API_KEY' | 'ELASTICSEARCH_INDEX_PREFIX'
>;

/** Above this many lines per request, the latest-window lookup is split (well under the 10 000-hit cap). */
const LINES_PER_LOOKUP = 1_000;
const SINGLE_KINDS: readonly SingleKind[] = ['alerts', 'dead-letters', 'lines', 'cvr-hours'];
const OPEN_STATES = ['raised', 'acknowledged'];

/**
 * The read model on Elasticsearch: what the query API serves when a utility outgrows one
 * machine. Every query returns exactly what SqliteReadModel returns for the same applied batches
 * (same rows, order, ties, limits and nulls; the engine spec checks it side by side).
 *
 * Writes are buffered: apply() queues documents and returns (it waits only while the buffer is
 * full), a background writer sends bulk requests and retries what the cluster could not take,
 * and flush() resolves once everything applied before it is indexed and refreshed. While the
 * cluster is down flush() keeps waiting (exponential backoff), and ids make every retry
 * idempotent, so nothing is lost or written twice when it returns. See bulk-writer.ts.
 *
 * Layout (elasticsearch/index-names.ts, mappings.ts): readings and aggregates in daily indices
 * (UTC, by event time / window start) behind one alias each, alerts, dead letters and lines in one
 * index each; templates with strict mappings are installed by migrate() (or before the first write).
 *
 * Only core Elasticsearch features are used (no painless scripts, no _delete_by_query), so the
 * minimal distribution the tests run (integ-test-zip) and any full 8.x/9.x cluster both work.
 */
export class ElasticsearchReadModel implements ReadModel {
  readonly indices: IndexNames;
  private readonly client: Client;
  private readonly ownsClient: boolean;
  private readonly node: string;
  private readonly writer: BulkWriter;
  private readonly indexSettings: IndexSettings;
  private readonly pageSize: number;
  private migration: Promise<void> | undefined;
  /** Indices known to exist (created here or found existing), so each is created at most once. */
  private readonly knownIndices = new Set<string>();
  private closed = false;

  constructor(options: ElasticsearchReadModelOptions) {
    this.indices = new IndexNames(options.indexPrefix ?? 'meterstream-');
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
      this.node = 'the configured Elasticsearch node';
    } else if (options.connection) {
      this.client = createElasticsearchClient(options.connection);
      this.ownsClient = true;
      this.node = options.connection.node;
    } else {
      throw new Error('ElasticsearchReadModel needs a connection (ELASTICSEARCH_URL) or a client');
    }
    this.indexSettings = options.indexSettings ?? {};
    this.pageSize = Math.min(10_000, Math.max(1, options.searchPageSize ?? 5_000));
    this.writer = new BulkWriter(this.client, { beforeWrite: (indices) => this.prepareIndices(indices) }, options);
  }

  static fromConfig(config: ElasticsearchConfig, options: Omit<ElasticsearchReadModelOptions, 'connection' | 'client' | 'indexPrefix'> = {}): ElasticsearchReadModel {
    return new ElasticsearchReadModel({
      ...options,
      connection: {
        node: config.ELASTICSEARCH_URL,
        username: config.ELASTICSEARCH_USERNAME,
        password: config.ELASTICSEARCH_PASSWORD,
        apiKey: config.ELASTICSEARCH_API_KEY,
      },
      indexPrefix: config.ELASTICSEARCH_INDEX_PREFIX,
    });
  }

  /**
   * Installs (or updates) the index templates and creates the single indices. Idempotent.
   * Updated templates apply to indices created afterwards (the next daily index); the single
   * indices, created once, get the current mapping put on them (fields added since they were
   * created, such as a line's deliveryDelay: adding fields is what a mapping update allows).
   */
  async migrate(): Promise<void> {
    for (const template of indexTemplates(this.indices, this.indexSettings)) {
      await this.client.indices.putIndexTemplate(template.body);
    }
    for (const kind of SINGLE_KINDS) {
      const index = this.indices.single(kind);
      await this.createIndex(index);
      await this.client.indices.putMapping({ index, ...MAPPINGS[kind] });
      this.knownIndices.add(index);
    }
    // Done: the writer need not run it again before its first write.
    this.migration ??= Promise.resolve();
  }

  /** Throws a message saying how to start Elasticsearch when the cluster does not answer. */
  async assertReachable(): Promise<void> {
    try {
      await this.client.cluster.health({ timeout: '5s' }, { requestTimeout: 5_000, maxRetries: 0 });
    } catch (err) {
      throw new Error(
        `Elasticsearch at ${this.node} is unreachable (${describeRequestError(err)}): start it with \`bash scripts/engines/elasticsearch.sh\` or point ELASTICSEARCH_URL at a running cluster`,
      );
    }
  }

  async apply(batch: ReadModelBatch): Promise<void> {
    if (this.closed) throw new Error('ElasticsearchReadModel is closed');
    // Converted in full before anything is queued: a malformed envelope throws here, queuing nothing.
    await this.writer.add(this.operations(batch));
  }

  async flush(): Promise<void> {
    await this.writer.flush();
  }

  /**
   * Flushes first (so readings applied before the call are pruned too), then drops the daily
   * indices that lie entirely before the cutoff (counting their documents) and deletes the older
   * documents of the cutoff's own day one by one: `_delete_by_query` is not in the minimal
   * distribution (no reindex module), and at most one day of readings is ever left to delete.
   * Lines keep their latest reading time: it is history, not a pointer to a document.
   */
  async pruneReadings(olderThan: number): Promise<number> {
    await this.flush();
    const indices = await this.readingIndices();
    const whole = indices.filter((index) => this.indices.wholeDayBefore('readings', index, olderThan));
    let deleted = 0;
    for (let i = 0; i < whole.length; i += 50) {
      const slice = whole.slice(i, i + 50);
      deleted += (await this.client.count({ index: slice })).count;
      await this.client.indices.delete({ index: slice });
      for (const index of slice) this.knownIndices.delete(index);
    }
    const partial = indices.filter((index) => !whole.includes(index) && (this.indices.dayStartOf('readings', index) ?? Number.NEGATIVE_INFINITY) < olderThan);
    if (partial.length > 0) deleted += await this.deleteReadingsBefore(partial, olderThan);
    return deleted;
  }

  async lines(): Promise<LineSummary[]> {
    const lines = await this.searchAll<LineDocument>(this.indices.single('lines'), { match_all: {} }, [{ lineId: 'asc' }]);
    const [latest, openAlerts] = await Promise.all([this.latestWindows(lines.map((l) => l.lineId)), this.alerts({ state: 'open' })]);
    const alertsByLine = new Map<string, AlertRow[]>();
    for (const alert of openAlerts) {
      const list = alertsByLine.get(alert.lineId);
      if (list) list.push(alert);
      else alertsByLine.set(alert.lineId, [alert]);
    }
    return lines.map((line) => summary(line, latest.get(line.lineId) ?? null, alertsByLine.get(line.lineId) ?? []));
  }

  async line(lineId: string): Promise<LineSummary | null> {
    let line: LineDocument | undefined;
    try {
      line = (await this.client.get<LineDocument>({ index: this.indices.single('lines'), id: documentId(lineId) }))._source;
    } catch (err) {
      if (err instanceof errors.ResponseError && err.statusCode === 404) return null;
      throw err;
    }
    if (!line) return null;
    const [latest, openAlerts] = await Promise.all([this.latestWindows([lineId]), this.alerts({ state: 'open', lineId })]);
    return summary(line, latest.get(lineId) ?? null, openAlerts);
  }

  async aggregates(lineId: string, range: TimeRange, query: AggregateQuery = {}): Promise<AggregateRow[]> {
    const scope: estypes.QueryDslQueryContainer =
      query.deviceId === undefined ? { bool: { must_not: [{ exists: { field: 'deviceId' } }] } } : { term: { deviceId: query.deviceId } };
    return this.searchAll<AggregateRow>(
      this.indices.alias('aggregates'),
      { bool: { filter: [{ term: { lineId } }, scope, { range: { windowStart: { gte: range.from, lt: range.to } } }] } },
      [{ windowStart: 'asc' }, { windowEnd: 'asc' }, { id: 'asc' }],
    );
  }

  async readings(lineId: string, range: TimeRange, limit: number): Promise<ReadingRow[]> {
    return this.searchAll<ReadingRow>(
      this.indices.alias('readings'),
      { bool: { filter: [{ term: { lineId } }, { range: { eventTime: { gte: range.from, lt: range.to } } }] } },
      [{ eventTime: 'asc' }, { deviceId: 'asc' }],
      limit,
    );
  }

  async alerts(query: AlertQuery): Promise<AlertRow[]> {
    const filter: estypes.QueryDslQueryContainer[] = [];
    if (query.state !== undefined) filter.push({ terms: { state: query.state === 'open' ? OPEN_STATES : [query.state] } });
    if (query.lineId !== undefined) filter.push({ term: { lineId: query.lineId } });
    const docs = await this.searchAll<AlertDocument>(this.indices.single('alerts'), { bool: { filter } }, [{ raisedAt: 'desc' }, { alertId: 'asc' }], query.limit);
    return docs.map(toAlertRow);
  }

  async deadLetters(limit: number, after?: DeadLetterPosition): Promise<DeadLetterRow[]> {
    // The sort values of a hit are [receivedAt (epoch ms), id]: search_after from a position is
    // exactly SQLite's "after (receivedAt, id)" in the same order.
    const start = after === undefined ? undefined : [after.receivedAt, after.id];
    return this.searchAll<DeadLetterRow>(this.indices.single('dead-letters'), { match_all: {} }, [{ receivedAt: 'desc' }, { id: 'asc' }], limit, start);
  }

  async cvrHours(lineId: string | null, range: TimeRange): Promise<LineHourFigures[]> {
    const filter: estypes.QueryDslQueryContainer[] = [{ range: { hourStart: { gte: range.from, lt: range.to } } }];
    if (lineId !== null) filter.push({ term: { lineId } });
    const docs = await this.searchAll<{ figures: string }>(this.indices.single('cvr-hours'), { bool: { filter } }, [{ lineId: 'asc' }, { hourStart: 'asc' }]);
    return docs.map((doc) => JSON.parse(doc.figures) as LineHourFigures);
  }

  async deadLetterCount(): Promise<number> {
    const response = await this.client.count({ index: this.indices.single('dead-letters'), ignore_unavailable: true, allow_no_indices: true });
    return response.count;
  }

  /** Writes what is buffered (waiting out an outage, like flush()), then closes the client if it is ours. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.writer.flush();
    } finally {
      if (this.ownsClient) await this.client.close();
    }
  }

  private operations(batch: ReadModelBatch): WriteOperation[] {
    const ops: WriteOperation[] = [];
    const lines = new Map<string, LineDelta>();
    const touchLine = (delta: LineDelta) => {
      const known = lines.get(delta.lineId);
      if (!known) lines.set(delta.lineId, delta);
      else if (delta.latestReadingTime !== undefined && (known.latestReadingTime === undefined || delta.latestReadingTime > known.latestReadingTime)) {
        known.latestReadingTime = delta.latestReadingTime;
      }
    };
    for (const e of batch.readings ?? []) {
      ops.push({ type: 'create', index: this.indices.daily('readings', e.eventTime), id: readingDocumentId(e), document: toReadingDocument(e) });
      touchLine({ lineId: e.lineId, latestReadingTime: e.eventTime });
    }
    for (const e of batch.aggregates ?? []) {
      ops.push({ type: 'create', index: this.indices.daily('aggregates', e.body.windowStart), id: documentId(e.id), document: toAggregateDocument(e) });
      touchLine({ lineId: e.body.lineId });
    }
    for (const e of batch.alerts ?? []) {
      ops.push({ type: 'alert', index: this.indices.single('alerts'), id: documentId(e.body.alertId), events: [toAlertDocument(e)] });
      touchLine({ lineId: e.body.lineId });
    }
    // After the events, as SQLite applies them: the writer folds both into the alert in this order.
    for (const e of batch.alertCommands ?? []) {
      ops.push({ type: 'alert', index: this.indices.single('alerts'), id: documentId(e.body.alertId), events: [{ command: e.body }] });
    }
    for (const c of batch.lineCounters ?? []) {
      ops.push({ type: 'line', index: this.indices.single('lines'), id: documentId(c.lineId), delta: lineDeltaFromCounters(c) });
    }
    // Dead letters do not create lines: their lineId may be "(unknown)" or a typo from a bad topic.
    for (const e of batch.deadLetters ?? []) {
      ops.push({ type: 'create', index: this.indices.single('dead-letters'), id: documentId(e.id), document: toDeadLetterDocument(e) });
    }
    for (const hour of batch.cvrHours ?? []) {
      ops.push({ type: 'create', index: this.indices.single('cvr-hours'), id: documentId(hour.id), document: { id: hour.id, lineId: hour.lineId, hourStart: hour.hourStart, figures: JSON.stringify(hour) } });
    }
    for (const delta of lines.values()) ops.push({ type: 'line', index: this.indices.single('lines'), id: documentId(delta.lineId), delta });
    return ops;
  }

  /** Before a write: templates once, then every daily index about to be written created explicitly (auto-create may be off). */
  private async prepareIndices(indices: ReadonlySet<string>): Promise<void> {
    this.migration ??= this.migrate().catch((err: unknown) => {
      this.migration = undefined; // the next attempt tries again
      throw err;
    });
    await this.migration;
    for (const index of indices) {
      if (this.knownIndices.has(index)) continue;
      await this.createIndex(index);
      this.knownIndices.add(index);
    }
  }

  private async createIndex(index: string): Promise<void> {
    try {
      await this.client.indices.create({ index });
    } catch (err) {
      const type = err instanceof errors.ResponseError ? (err.body as { error?: { type?: string } } | undefined)?.error?.type : undefined;
      if (type !== 'resource_already_exists_exception') throw err;
    }
  }

  /** The concrete indices behind the readings alias. */
  private async readingIndices(): Promise<string[]> {
    const rows = await this.client.cat.aliases({ name: this.indices.alias('readings'), format: 'json', h: 'index' });
    return [...new Set((rows as { index?: string }[]).map((r) => r.index).filter((i): i is string => typeof i === 'string'))].sort();
  }

  /** Client-side delete-by-query: page through the ids of older readings and bulk-delete them. */
  private async deleteReadingsBefore(indices: string[], cutoff: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const response = await this.client.search({
        index: indices,
        query: { range: { eventTime: { lt: cutoff } } },
        _source: false,
        size: this.pageSize,
        sort: ['_doc'],
        ignore_unavailable: true,
        allow_no_indices: true,
        track_total_hits: false,
      });
      const hits = response.hits.hits;
      if (hits.length === 0) return deleted;
      // refresh: the next page must not see what this one deleted.
      const result = await this.client.bulk({ operations: hits.map((h) => ({ delete: { _index: h._index, _id: h._id! } })), refresh: true });
      const refused: string[] = [];
      for (const item of result.items) {
        const outcome = item.delete!;
        if (outcome.status === 200) deleted++;
        else if (outcome.status !== 404) refused.push(`[${outcome._index}/${outcome._id}] ${outcome.status} ${outcome.error?.type ?? ''}: ${outcome.error?.reason ?? ''}`);
      }
      if (refused.length > 0) throw new Error(`pruning readings: Elasticsearch refused ${refused.length} delete(s), e.g. ${refused.slice(0, 3).join('; ')}`);
      if (hits.length < this.pageSize) return deleted;
    }
  }

  /** The newest per-line window of each line: one collapsed search per slice of lines. */
  private async latestWindows(lineIds: string[]): Promise<Map<string, AggregateRow>> {
    const latest = new Map<string, AggregateRow>();
    for (let i = 0; i < lineIds.length; i += LINES_PER_LOOKUP) {
      const slice = lineIds.slice(i, i + LINES_PER_LOOKUP);
      const response = await this.client.search<AggregateRow>({
        index: this.indices.alias('aggregates'),
        query: { bool: { filter: [{ terms: { lineId: slice } }], must_not: [{ exists: { field: 'deviceId' } }] } },
        collapse: { field: 'lineId' },
        sort: [{ windowStart: 'desc' }, { windowEnd: 'desc' }, { id: 'asc' }],
        size: slice.length,
        ignore_unavailable: true,
        allow_no_indices: true,
        track_total_hits: false,
      });
      for (const hit of response.hits.hits) if (hit._source) latest.set(hit._source.lineId, hit._source);
    }
    return latest;
  }

  /**
   * Every hit of a sorted query, or the first `limit` (negative or absent: all, as SQLite's
   * LIMIT -1), paged with search_after on a sort that ends in a unique field: pages are exact
   * and the 10 000-hit window does not cap the result. A missing index or alias is no rows.
   * `start`: sort values to begin after (a caller's page cursor), as search_after.
   */
  private async searchAll<T>(
    index: string,
    query: estypes.QueryDslQueryContainer,
    sort: estypes.SortCombinations[],
    limit?: number,
    start?: estypes.SortResults,
  ): Promise<T[]> {
    const max = limit === undefined || limit < 0 ? Number.POSITIVE_INFINITY : limit;
    const rows: T[] = [];
    let after: estypes.SortResults | undefined = start;
    while (rows.length < max) {
      const size = Math.min(this.pageSize, max - rows.length);
      const response = await this.client.search<T>({
        index,
        query,
        sort,
        size,
        ...(after === undefined ? {} : { search_after: after }),
        ignore_unavailable: true,
        allow_no_indices: true,
        track_total_hits: false,
      });
      const hits = response.hits.hits;
      for (const hit of hits) rows.push(hit._source as T);
      if (hits.length < size) break;
      after = hits[hits.length - 1].sort;
    }
    return rows;
  }
}

function summary(line: LineDocument, latestWindow: AggregateRow | null, openAlerts: AlertRow[]): LineSummary {
  return {
    lineId: line.lineId,
    latestReadingTime: line.latestReadingTime,
    latestWindow,
    openAlerts,
    lateReadings: line.lateReadings,
    duplicateReadings: line.duplicateReadings,
    deliveryDelay: line.deliveryDelay ?? null,
  };
}
