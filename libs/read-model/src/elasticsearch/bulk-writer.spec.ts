import { errors, type Client } from '@elastic/elasticsearch';
import { BulkWriter, ElasticsearchIndexingError, type WriteOperation } from './bulk-writer';
import { NO_DECISIONS } from '../alert-decisions';
import type { AlertDocument } from './documents';

/**
 * An in-memory stand-in for the three calls the writer makes (bulk, mget, refresh), with the
 * semantics it relies on: create answers 409 when the id exists, a conditional index answers 409
 * when the sequence number moved. Faults are injected per item or per request.
 */
class FakeCluster {
  readonly docs = new Map<string, { source: unknown; seqNo: number }>();
  readonly bulkSizes: number[] = [];
  /** Status to answer for an item instead of writing it (consulted once per item per request). */
  itemFault: (id: string) => number | undefined = () => undefined;
  /** Errors to throw for the next requests, in order. */
  readonly requestFaults: Error[] = [];
  /** When set, bulk waits for it (to hold a generation in flight). */
  gate: Promise<void> | undefined;
  private seq = 0;

  readonly client = {
    bulk: async ({ operations }: { operations: string[] }) => {
      await this.gate;
      const fault = this.requestFaults.shift();
      if (fault) throw fault;
      this.bulkSizes.push(operations.length / 2);
      const items = [];
      for (let i = 0; i < operations.length; i += 2) {
        const action = JSON.parse(operations[i]) as Record<string, { _index: string; _id: string; if_seq_no?: number }>;
        const [type, meta] = Object.entries(action)[0];
        const key = `${meta._index}/${meta._id}`;
        const injected = this.itemFault(meta._id);
        const existing = this.docs.get(key);
        let status = 201;
        if (injected !== undefined) status = injected;
        else if (type === 'create' && existing) status = 409;
        else if (type === 'index' && existing?.seqNo !== meta.if_seq_no) status = 409;
        else this.docs.set(key, { source: JSON.parse(operations[i + 1]), seqNo: this.seq++ });
        items.push({ [type]: { _index: meta._index, _id: meta._id, status, ...(status >= 300 ? { error: { type: `status_${status}`, reason: 'injected' } } : {}) } });
      }
      return { errors: items.some((it) => Object.values(it)[0].status >= 300), items, took: 1 };
    },
    mget: async ({ docs }: { docs: { _index: string; _id: string }[] }) => {
      const fault = this.requestFaults.shift();
      if (fault) throw fault;
      return {
        docs: docs.map((d) => {
          const stored = this.docs.get(`${d._index}/${d._id}`);
          return stored
            ? { _index: d._index, _id: d._id, found: true, _source: stored.source, _seq_no: stored.seqNo, _primary_term: 1 }
            : { _index: d._index, _id: d._id, found: false };
        }),
      };
    },
    indices: { refresh: async () => ({}) },
  };

  writer(options: ConstructorParameters<typeof BulkWriter>[2] = {}): { writer: BulkWriter; logged: string[] } {
    const logged: string[] = [];
    const writer = new BulkWriter(this.client as unknown as Client, { beforeWrite: async () => undefined }, {
      retryStartingDelayMs: 1,
      retryMaxDelayMs: 5,
      logger: { warn: (m) => logged.push(`warn ${m}`), error: (m) => logged.push(`error ${m}`) },
      ...options,
    });
    return { writer, logged };
  }

  source(index: string, id: string): unknown {
    return this.docs.get(`${index}/${id}`)?.source;
  }
}

const create = (id: string, value = 1): WriteOperation => ({ type: 'create', index: 'r', id, document: { id, value } });

function alertEvent(state: AlertDocument['ruleState'], updatedAt: number): AlertDocument {
  return {
    alertId: 'a',
    kind: 'k',
    state,
    ruleState: state,
    stateRank: state === 'cleared' ? 1 : 0,
    severity: 'warning',
    lineId: 'L1',
    deviceId: null,
    message: state,
    evidence: {},
    raisedAt: 1,
    updatedAt,
    ...NO_DECISIONS,
  };
}

function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}

describe('BulkWriter', () => {
  it('writes each document once; a repeated create keeps the first version', async () => {
    const cluster = new FakeCluster();
    const { writer } = cluster.writer();
    await writer.add([create('a', 1), create('b'), create('a', 2)]);
    await writer.flush();
    await writer.add([create('a', 3)]);
    await writer.flush();
    expect(cluster.source('r', 'a')).toEqual({ id: 'a', value: 1 });
    expect(cluster.docs.size).toBe(2);
  });

  it('splits a generation into bulk requests of at most bulkMaxDocuments', async () => {
    const cluster = new FakeCluster();
    const { writer } = cluster.writer({ bulkMaxDocuments: 4 });
    // One add() queues all ten before the flusher starts: one generation.
    await writer.add(Array.from({ length: 10 }, (_, i) => create(`d${i}`)));
    await writer.flush();
    expect(cluster.docs.size).toBe(10);
    expect(cluster.bulkSizes).toEqual([4, 4, 2]);
  });

  it('retries items the cluster pushed back (429, 503) until they are written; flush waits for them', async () => {
    const cluster = new FakeCluster();
    const { writer, logged } = cluster.writer();
    const pushBacks = new Map([
      ['a', 3],
      ['b', 1],
    ]);
    cluster.itemFault = (id) => {
      const left = pushBacks.get(id) ?? 0;
      if (left === 0) return undefined;
      pushBacks.set(id, left - 1);
      return id === 'a' ? 429 : 503;
    };
    await writer.add([create('a'), create('b'), create('c')]);
    await writer.flush();
    expect([...cluster.docs.keys()].sort()).toEqual(['r/a', 'r/b', 'r/c']);
    expect(logged.some((m) => m.startsWith('warn') && m.includes('retrying with backoff'))).toBe(true);
  });

  it('waits out a cluster that refuses connections, then writes everything', async () => {
    const cluster = new FakeCluster();
    const { writer } = cluster.writer();
    for (let i = 0; i < 5; i++) cluster.requestFaults.push(new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:19200'));
    await writer.add([create('a'), create('b')]);
    await writer.flush();
    expect(cluster.docs.size).toBe(2);
    expect(cluster.requestFaults).toHaveLength(0);
  });

  it('reports documents refused for good on the next flush, once, and keeps writing the others', async () => {
    const cluster = new FakeCluster();
    const { writer, logged } = cluster.writer();
    cluster.itemFault = (id) => (id === 'bad' ? 400 : undefined);
    await writer.add([create('good'), create('bad')]);
    const error = await writer.flush().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ElasticsearchIndexingError);
    expect((error as ElasticsearchIndexingError).failures).toEqual([{ index: 'r', id: 'bad', status: 400, error: 'status_400: injected' }]);
    expect((error as Error).message).toContain('[r/bad] 400 status_400: injected');
    expect(logged.filter((m) => m.startsWith('error'))).toHaveLength(1);
    expect(cluster.source('r', 'good')).toBeDefined();
    await expect(writer.flush()).resolves.toBeUndefined();
  });

  it('fails the whole request for an answer that cannot change (401), without retrying forever', async () => {
    const cluster = new FakeCluster();
    const { writer } = cluster.writer();
    const denied = new errors.ResponseError({ body: { error: { type: 'security_exception', reason: 'missing authentication' } }, statusCode: 401, headers: {}, warnings: null, meta: {} as never });
    cluster.requestFaults.push(denied);
    await writer.add([create('a')]);
    await expect(writer.flush()).rejects.toThrow(/\[r\/a\] 401 HTTP 401 security_exception: missing authentication/);
  });

  it('makes apply wait while the buffer is full (back-pressure), and go on once the cluster drains it', async () => {
    const cluster = new FakeCluster();
    const { writer } = cluster.writer({ maxBufferedDocuments: 3 });
    let open!: () => void;
    cluster.gate = new Promise((resolve) => (open = resolve));
    await writer.add([create('a'), create('b'), create('c')]);
    const blocked = writer.add([create('d')]);
    const isDone = settled(blocked);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(isDone()).toBe(false);
    expect(writer.buffered).toBe(3);
    open();
    await blocked;
    await writer.flush();
    expect(cluster.docs.size).toBe(4);
  });

  it('folds alert events in order into the stored alert and re-reads it after a conflict', async () => {
    const cluster = new FakeCluster();
    const { writer } = cluster.writer();
    await writer.add([{ type: 'alert', index: 'al', id: 'a', events: [alertEvent('raised', 20), { command: { action: 'acknowledge', alertId: 'a', by: 'ana', at: 25 } }] }]);
    await writer.flush();
    // Someone else moves the stored alert between our read and our write: one 409, then a re-read.
    let conflicts = 1;
    cluster.itemFault = () => (conflicts-- > 0 ? 409 : undefined);
    await writer.add([
      { type: 'alert', index: 'al', id: 'a', events: [alertEvent('raised', 10)] },
      { type: 'alert', index: 'al', id: 'a', events: [alertEvent('cleared', 30)] },
    ]);
    await writer.flush();
    expect(cluster.source('al', 'a')).toMatchObject({ state: 'cleared', updatedAt: 30, acknowledgedBy: 'ana', acknowledgedAt: 25 });
  });

  it('merges line deltas by maximum and skips the write when nothing rises', async () => {
    const cluster = new FakeCluster();
    const { writer } = cluster.writer();
    const line = (delta: object): WriteOperation => ({ type: 'line', index: 'ln', id: 'L1', delta: { lineId: 'L1', ...delta } });
    await writer.add([line({ latestReadingTime: 5 }), line({ lateReadings: 2 }), line({ latestReadingTime: 3, duplicateReadings: 1 })]);
    await writer.flush();
    expect(cluster.source('ln', 'L1')).toEqual({ lineId: 'L1', latestReadingTime: 5, lateReadings: 2, duplicateReadings: 1, deliveryDelay: null });
    const writes = cluster.bulkSizes.length;
    await writer.add([line({ latestReadingTime: 4, lateReadings: 1 })]);
    await writer.flush();
    expect(cluster.bulkSizes).toHaveLength(writes);
  });
});
