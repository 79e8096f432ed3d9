/**
 * Kinesis scale-out with leases: three stream-processor processes (the real dist/ main.js,
 * STREAM_BACKEND=kinesis) share an 8-shard readings stream on kinesalite through the DynamoDB
 * lease table on moto; one is SIGKILLed mid-stream and the survivors take its shards once its
 * leases expire; a fourth joins and takes its share by lease stealing. The deduplicated outputs
 * and the read model equal a single-instance run (the recorded fixture's embedded reference),
 * and every alert event reaches a webhook receiver (a local HTTP server), delivered by the
 * alert dispatchers that share the alerts stream through the same leases.
 *
 * Engines: bash scripts/engines/up.sh kinesalite moto (KINESIS_ENDPOINT, MOTO_ENDPOINT).
 */
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as path from 'node:path';
import { KinesisClient, ListStreamsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { decodeEnvelope, STREAMS, type Envelope } from '@meterstream/contracts';
import { decodeCheckpoint } from '@meterstream/processing';
import { SqliteReadModel } from '@meterstream/read-model';
import { EmbeddedStreamLog, type AppendRecord } from '@meterstream/stream';
import { DynamoCheckpointStore, KinesisStreamLog, LeaseManager } from '@meterstream/stream/kinesis';
import { buildOnce, readModelState, waitFor } from '@meterstream/test-harness';
import { deduplicate, recordedFixture, type RecordedFixture } from '../../apps/stream-processor/src/runtime/testing/recorded-run';
import { outputStreams } from './testing/output-streams';
import { ProcessorProcess } from './testing/processor-process';

const KINESIS_ENDPOINT = process.env.KINESIS_ENDPOINT ?? 'http://127.0.0.1:14567';
const MOTO_ENDPOINT = process.env.MOTO_ENDPOINT ?? 'http://127.0.0.1:15000';
// Dummy credentials for kinesalite and moto (signed requests, any signer); the children inherit them.
process.env.AWS_ACCESS_KEY_ID = 'scale-out-test';
process.env.AWS_SECRET_ACCESS_KEY = 'scale-out-test';
delete process.env.AWS_SESSION_TOKEN;
delete process.env.AWS_PROFILE;

const SHARDS = 8;
const ROUNDS = 20;
/** Short lease timings (configuration), so a dead instance's shards move within seconds. */
const LEASES = { KINESIS_LEASE_DURATION_MS: '4000', KINESIS_LEASE_RENEW_MS: '1000', KINESIS_LEASE_TAKE_MS: '1000' };

/** The reference's `${stream}/${partition}/${key}` keys without the partition. */
function withoutPartition(outputs: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(outputs).map(([key, values]) => [key.replace(/^([^/]+)\/[^/]+\//, '$1/'), values]));
}

/** A webhook receiver: every alert envelope POSTed, by arrival. */
async function startWebhookReceiver() {
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(decodeEnvelope<Envelope>(Buffer.concat(chunks)).id);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => server.closeAllConnections()),
  };
}

describe('stream processors on Kinesis sharing shards by leases', () => {
  let fixture: RecordedFixture;
  const processes: ProcessorProcess[] = [];
  const closers: (() => Promise<unknown> | void)[] = [];

  beforeAll(async () => {
    buildOnce();
    fixture = await recordedFixture();
  }, 180_000);

  afterAll(async () => {
    // Every child, even when the test failed half-way.
    for (const p of processes) await p.signal('SIGKILL');
    for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => undefined);
    fixture?.cleanup();
  });

  it('3 processors split 8 shards; one is SIGKILLed and the survivors take its shards after the lease expires; a fourth takes its share; outputs equal a single instance’s and every alert reaches the webhook', async () => {
    const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
    const prefix = `scale-${run}-`;
    const leaseTable = `scale-${run}-leases`;
    const webhook = await startWebhookReceiver();
    closers.push(webhook.close);
    const dataDir = path.join(fixture.dir, 'kinesis-processors');
    const readModelFile = path.join(dataDir, 'meterstream.db');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      STREAM_BACKEND: 'kinesis',
      // All on this host with one DATA_DIR: they share the SQLite read model in it (nothing else).
      DATA_DIR: dataDir,
      AWS_REGION: 'us-east-1',
      KINESIS_ENDPOINT,
      KINESIS_STREAM_PREFIX: prefix,
      KINESIS_SHARDS: String(SHARDS),
      DYNAMODB_ENDPOINT: MOTO_ENDPOINT,
      KINESIS_LEASE_TABLE: leaseTable,
      KINESIS_LEASE_TABLE_CREATE: 'true',
      ...LEASES,
      // As in the Kafka scale-out test: the input's recorded ingest times are far behind the wall
      // clock these processes run on, so no line may count as idle between rounds.
      IDLE_TIMEOUT_MS: String(10 * 365 * 24 * 3_600_000),
      READING_RETENTION_HOURS: '0.25',
      READ_MODEL_BACKEND: 'sqlite',
      TIMESERIES_BACKEND: 'sqlite',
      ALERT_CHANNELS: 'webhook',
      ALERT_WEBHOOK_URL: webhook.url,
      ALERT_WEBHOOK_SECRET: 'scale-out-test-secret',
      ALERT_CHANNEL_RATE_PER_MINUTE: '100000',
    };
    const leases = new LeaseManager({
      table: { tableName: leaseTable, region: 'us-east-1', endpoint: MOTO_ENDPOINT, createIfMissing: true },
      leaseDurationMs: 4000,
      renewIntervalMs: 1000,
      takeIntervalMs: 1000,
    });
    const log = new KinesisStreamLog({ region: 'us-east-1', endpoint: KINESIS_ENDPOINT, streamPrefix: prefix, shards: SHARDS, leases });
    closers.push(() => log.close(), () => leases.close());
    const checkpoints = new DynamoCheckpointStore(leases);
    const group = `${prefix}stream-processor`;
    try {
      await leases.table.ensureReady();
    } catch (err) {
      throw new Error(`moto's DynamoDB is not reachable at ${MOTO_ENDPOINT}: ${(err as Error).message}; start it with bash scripts/engines/moto.sh`);
    }
    const probe = new KinesisClient({ region: 'us-east-1', endpoint: KINESIS_ENDPOINT, maxAttempts: 1, requestHandler: new NodeHttpHandler({ connectionTimeout: 3000 }) });
    try {
      await probe.send(new ListStreamsCommand({ Limit: 1 }));
    } catch (err) {
      throw new Error(`kinesalite is not reachable at ${KINESIS_ENDPOINT}: ${(err as Error).message}; start it with bash scripts/engines/kinesalite.sh`);
    } finally {
      probe.destroy();
    }
    // The processes create the read model; the test only reads it at the end.
    await SqliteReadModel.open(readModelFile).close();

    // The recorded input, per embedded partition in log order, appended in rounds.
    const input = EmbeddedStreamLog.open(fixture.copyInput('kinesis-input'), { partitions: 8 });
    const rounds: AppendRecord[][] = [];
    let totalReadings = 0;
    for (let p = 0; p < 8; p++) {
      const records = input.readSync(STREAMS.readings, String(p), null, 1_000_000).map((r) => ({ key: r.key, value: r.value }));
      totalReadings += records.length;
      const size = Math.ceil(records.length / ROUNDS);
      for (let round = 0; round < ROUNDS; round++) (rounds[round] ??= []).push(...records.slice(round * size, (round + 1) * size));
    }
    const deadLetters = [];
    for (let p = 0; p < 8; p++) deadLetters.push(...input.readSync(STREAMS.deadLetters, String(p), null, 1000).map((r) => ({ key: r.key, value: r.value })));
    await input.close();
    await log.append(STREAMS.deadLetters, deadLetters);
    for (const round of rounds.slice(0, 3)) await log.append(STREAMS.readings, round);
    const shards = await log.partitions(STREAMS.readings);
    expect(shards).toHaveLength(SHARDS);

    const start = (name: string) => {
      const p = new ProcessorProcess(name, env);
      processes.push(p);
      return p;
    };
    const counts = (ps: ProcessorProcess[]) => ps.map((p) => p.status.owned.length);
    const split = (ps: ProcessorProcess[]) => {
      for (const p of ps) p.alive();
      const owned = ps.flatMap((p) => p.status.owned);
      return owned.length === SHARDS && new Set(owned).size === SHARDS && Math.max(...counts(ps)) - Math.min(...counts(ps)) <= 1;
    };
    const [a, b, c] = [start('A'), start('B'), start('C')];
    await waitFor(() => split([a, b, c]), { what: 'A, B and C to split the 8 shards 3/3/2', timeoutMs: 120_000, intervalMs: 200 });
    expect(counts([a, b, c]).sort()).toEqual([2, 3, 3]);

    // Live input; A is SIGKILLed about halfway, once it has checkpointed some of that round.
    const killAfterRound = Math.floor(ROUNDS / 2);
    const savedPositions = async (partitions: readonly string[]) =>
      JSON.stringify(await Promise.all(partitions.map(async (p) => decodeCheckpoint(p, await checkpoints.load(group, p)).position)));
    let ownedByA: string[] = [];
    let killedAt = 0;
    for (let r = 3; r < ROUNDS; r++) {
      const before = r === killAfterRound ? await savedPositions(a.status.owned) : undefined;
      await log.append(STREAMS.readings, rounds[r]);
      if (r === killAfterRound) {
        ownedByA = a.status.owned;
        await waitFor(async () => (await savedPositions(ownedByA)) !== before, { what: 'A to checkpoint', timeoutMs: 60_000, intervalMs: 100 });
        await a.signal('SIGKILL');
        killedAt = Date.now();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The survivors take A's shards, but only once A's leases expired (4 s without renewal).
    await waitFor(() => split([b, c]), { what: 'B and C to take over A’s shards (4/4)', timeoutMs: 120_000, intervalMs: 200 });
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(4000);
    expect([...b.status.owned, ...c.status.owned].sort()).toEqual([...shards].sort());
    expect(ownedByA.every((s) => b.status.owned.includes(s) || c.status.owned.includes(s))).toBe(true);

    // A fourth joins and gets its share by lease stealing: 8 over 3 live processors.
    const d = start('D');
    await waitFor(() => split([b, c, d]), { what: 'D to take its share (3/3/2)', timeoutMs: 120_000, intervalMs: 200 });
    expect(counts([b, c, d]).sort()).toEqual([2, 3, 3]);

    // Everything processed: every shard's checkpoint at its last record.
    const ends = new Map<string, string>();
    for (const shard of shards) {
      let after: string | null = null;
      for (;;) {
        const records = await log.read(STREAMS.readings, shard, after, 10_000);
        if (records.length === 0) break;
        after = records[records.length - 1].position;
      }
      if (after !== null) ends.set(shard, after);
    }
    await waitFor(
      async () => {
        const behind: string[] = [];
        for (const [shard, end] of ends) {
          const position = decodeCheckpoint(shard, await checkpoints.load(group, shard)).position;
          if (position !== end) behind.push(`${shard} at ${position}`);
        }
        if (behind.length > 0) throw new Error(`${behind.join(', ')}; B ${b.status.owned}, C ${c.status.owned}, D ${d.status.owned}`);
        return true;
      },
      { what: 'every shard checkpointed at its end', timeoutMs: 180_000, intervalMs: 500 },
    );

    // Alerts: every alert event of the (deduplicated) alerts stream reaches the webhook.
    const deduplicated = deduplicate(await outputStreams(log, (stream, _partition, key) => `${stream}/${key}`));
    const alertIds = Object.entries(deduplicated.outputs)
      .filter(([key]) => key.startsWith(`${STREAMS.alerts}/`))
      .flatMap(([, values]) => values.map((v) => decodeEnvelope<Envelope>(Buffer.from(v)).id));
    expect(alertIds.length).toBeGreaterThan(0);
    await waitFor(() => alertIds.every((id) => webhook.received.includes(id)), { what: 'every alert event at the webhook', timeoutMs: 120_000, intervalMs: 250 });

    for (const p of [b, c, d]) await p.signal('SIGTERM');
    for (const p of [b, c, d]) expect(p.status.stoppedAfterReadings).not.toBeNull();
    // Nobody read the whole input: the work was shared.
    for (const p of [b, c, d]) expect(p.status.stoppedAfterReadings).toBeLessThan(totalReadings);

    expect(deduplicated.conflicting).toEqual([]);
    expect(deduplicated.outputs).toEqual(withoutPartition(fixture.reference.outputs));
    expect(await readModelState(readModelFile)).toEqual(fixture.reference.readModel);
    const model = SqliteReadModel.open(readModelFile);
    expect(await model.deadLetters(1000)).toEqual(fixture.reference.deadLetters);
    await model.close();

    // Each alert event at least once; nothing that is not an alert event of the stream. Repeats are
    // counted and reported: a shard handed over (a steal, a leave) carries the position of every
    // alert delivered in it, so only A's death can cause one — the alert A delivered but had not
    // committed, at most one per alerts shard A held.
    const arrivals = new Map<string, number>();
    for (const id of webhook.received) arrivals.set(id, (arrivals.get(id) ?? 0) + 1);
    expect([...arrivals.keys()].sort()).toEqual([...new Set(alertIds)].sort());
    const repeated = [...arrivals.values()].reduce((n, k) => n + k - 1, 0);
    console.log(`webhook: ${alertIds.length} alert events, ${webhook.received.length} deliveries, ${repeated} repeated`);
    expect(repeated).toBeLessThanOrEqual(SHARDS);
  }, 600_000);
});
