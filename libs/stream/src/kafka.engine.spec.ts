import { buildOnce, waitFor } from '@meterstream/test-harness';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { KafkaStreamLog, type KafkaStreamLogOptions } from './kafka';
import { assertKafkaReachable, collectingLogger, testBrokers, uniqueTopicPrefix } from './kafka/testing/kafka-test-env';
import { partitionForKey } from './partitioner';
import type { GroupListener, StreamLog, StreamRecord } from './stream-log';

const ROOT = path.resolve(__dirname, '../../..');
const SESSION_TIMEOUT_MS = 6000;

const rec = (key: string, text: string) => ({ key, value: Buffer.from(text) });

/** Every record of a stream, partition by partition, read in pages of `page`. */
async function readAll(log: StreamLog, stream: string, page: number): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  for (const partition of await log.partitions(stream)) {
    let after: string | null = null;
    for (;;) {
      const batch = await log.read(stream, partition, after, page);
      if (batch.length === 0) break;
      expect(batch.length).toBeLessThanOrEqual(page);
      out.push(...batch);
      after = batch[batch.length - 1].position;
    }
  }
  return out;
}

/** A group listener that records its calls and keeps the partitions it was told it owns. */
function recordingListener(): GroupListener & { owned: Set<string>; calls: string[] } {
  const owned = new Set<string>();
  const calls: string[] = [];
  return {
    owned,
    calls,
    assigned: async (partitions) => {
      calls.push(`assigned ${partitions.join(',')}`);
      for (const p of partitions) owned.add(p);
    },
    revoked: async (partitions) => {
      calls.push(`revoked ${partitions.join(',')}`);
      for (const p of partitions) owned.delete(p);
    },
  };
}

const sorted = (partitions: Iterable<string>) => [...partitions].sort((a, b) => Number(a) - Number(b));

describe('KafkaStreamLog against a Kafka broker', () => {
  const prefix = uniqueTopicPrefix('log');
  const logs: KafkaStreamLog[] = [];
  const open = (overrides: Partial<KafkaStreamLogOptions> = {}): KafkaStreamLog => {
    const log = new KafkaStreamLog({
      brokers: testBrokers(),
      clientId: 'stream-log-spec',
      topicPrefix: prefix,
      partitions: 4,
      group: { sessionTimeoutMs: SESSION_TIMEOUT_MS, heartbeatIntervalMs: 500 },
      logger: collectingLogger(),
      ...overrides,
    });
    logs.push(log);
    return log;
  };

  beforeAll(async () => {
    await assertKafkaReachable();
  });

  afterAll(async () => {
    await Promise.all(logs.map((log) => log.close()));
  });

  it('appends and reads back every record once, in its key’s murmur2 partition, in per-key order', async () => {
    const log = open();
    const started = Date.now();
    const keys = Array.from({ length: 30 }, (_, i) => `L${String(i).padStart(2, '0')}`);
    // Sequential appends, each touching every key: per-key order across appends.
    for (let round = 0; round < 20; round++) {
      await log.append('readings', keys.map((k) => rec(k, `${k}#${round}`)));
    }
    // Concurrent appends with their own keys: grouped into shared produce requests.
    await Promise.all(
      Array.from({ length: 12 }, (_, a) => log.append('readings', Array.from({ length: 50 }, (_, i) => rec(`burst-${a}`, `burst-${a}#${i}`)))),
    );

    const records = await readAll(log, 'readings', 97);
    expect(records).toHaveLength(30 * 20 + 12 * 50);
    const byKey = new Map<string, string[]>();
    for (const r of records) {
      expect(r.stream).toBe('readings');
      expect(r.partition).toBe(String(partitionForKey(r.key, 4)));
      expect(r.appendTime).toBeGreaterThanOrEqual(started - 5000);
      expect(r.appendTime).toBeLessThanOrEqual(Date.now() + 5000);
      byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.value.toString()]);
    }
    for (const k of keys) expect(byKey.get(k)).toEqual(Array.from({ length: 20 }, (_, round) => `${k}#${round}`));
    for (let a = 0; a < 12; a++) expect(byKey.get(`burst-${a}`)).toEqual(Array.from({ length: 50 }, (_, i) => `burst-${a}#${i}`));
    // Positions are Kafka offsets: dense and increasing within a partition.
    for (const partition of await log.partitions('readings')) {
      const offsets = records.filter((r) => r.partition === partition).map((r) => Number(r.position));
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
  });

  it('reads strictly after any position, answers [] when caught up, and goes back on request', async () => {
    const log = open({ partitions: 1, readAheadBytes: 4096 });
    await log.append('pages', Array.from({ length: 500 }, (_, i) => rec(`k${i % 7}`, `v${i}`)));
    const all = await readAll(log, 'pages', 50);
    expect(all.map((r) => r.value.toString())).toEqual(Array.from({ length: 500 }, (_, i) => `v${i}`));

    const last = all[all.length - 1].position;
    expect(await log.read('pages', '0', last, 100)).toEqual([]);
    // Backwards, then forwards again from the middle: a fresh fetch each time, exact results.
    expect((await log.read('pages', '0', null, 3)).map((r) => r.value.toString())).toEqual(['v0', 'v1', 'v2']);
    expect((await log.read('pages', '0', all[237].position, 5)).map((r) => r.value.toString())).toEqual(['v238', 'v239', 'v240', 'v241', 'v242']);
    expect((await log.read('pages', '0', all[242].position, 2)).map((r) => r.value.toString())).toEqual(['v243', 'v244']);

    // A record appended after the reader caught up is the next thing it reads.
    await log.append('pages', [rec('k0', 'late')]);
    const next = await log.read('pages', '0', last, 100);
    expect(next.map((r) => r.value.toString())).toEqual(['late']);
    expect(await log.read('pages', '0', next[0].position, 100)).toEqual([]);
  });

  it('counts the records after a position from the high watermark (the consumer lag)', async () => {
    const log = open({ partitions: 1 });
    await log.append('lag', Array.from({ length: 12 }, (_, i) => rec('k', `v${i}`)));
    const all = await readAll(log, 'lag', 100);
    expect(await log.backlog('lag', '0', null)).toBe(12);
    expect(await log.backlog('lag', '0', all[4].position)).toBe(7);
    expect(await log.backlog('lag', '0', all[11].position)).toBe(0);
  });

  it('rejects partitions the stream does not have and positions that are not offsets', async () => {
    const log = open({ partitions: 2 });
    await expect(log.read('bounds', '2', null, 10)).rejects.toThrow(/no partition 2/);
    await expect(log.read('bounds', '0', '1.3', 10)).rejects.toThrow(/not a Kafka position/);
    await expect(log.read('bounds', '0', '41', 10)).rejects.toThrow(/past the end/);
  });

  it('puts a key in the partition Kafka’s own default partitioner picks', async () => {
    const log = open({ partitions: 6 });
    await log.partitions('agree'); // creates the topic
    const kafka = new Kafka({ clientId: 'partitioner-spec', brokers: testBrokers(), logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const keys = Array.from({ length: 60 }, (_, i) => `line-${i}`);
    // No partition given: kafkajs's Java-compatible partitioner decides.
    await producer.send({ topic: log.topicOf('agree'), messages: keys.map((key) => ({ key, value: 'x' })) });
    await producer.disconnect();
    const records = await readAll(log, 'agree', 100);
    expect(records).toHaveLength(keys.length);
    for (const r of records) expect(r.partition).toBe(String(partitionForKey(r.key, 6)));
  });

  it('commits the last processed position and reports it back; Kafka stores the next offset', async () => {
    const log = open();
    const group = `${prefix}commit-group`;
    expect(await log.committed(group, 'commits')).toEqual(new Map());
    await log.commit(group, 'commits', new Map([['0', '41'], ['3', '0']]));
    expect(await log.committed(group, 'commits')).toEqual(new Map([['0', '41'], ['3', '0']]));
    await log.commit(group, 'commits', new Map([['0', '42']]));
    expect(await log.committed(group, 'commits')).toEqual(new Map([['0', '42'], ['3', '0']]));

    const kafka = new Kafka({ clientId: 'commit-spec', brokers: testBrokers(), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const [{ partitions }] = await admin.fetchOffsets({ groupId: group, topics: [log.topicOf('commits')] });
    await admin.disconnect();
    const stored = new Map(partitions.map((p) => [p.partition, p.offset]));
    expect(stored.get(0)).toBe('43');
    expect(stored.get(3)).toBe('1');
    expect(stored.get(1)).toBe('-1');
  });

  it('spreads partitions over two members, commits through a member, and gives all back when one leaves', async () => {
    const group = `${prefix}members`;
    const [a, b, outsider] = [open(), open(), open()];
    const listenerA = recordingListener();
    const memberA = await a.joinGroup(group, 'shared', listenerA);
    expect(sorted(memberA.owned())).toEqual(['0', '1', '2', '3']);
    expect(sorted(listenerA.owned)).toEqual(['0', '1', '2', '3']);

    const listenerB = recordingListener();
    const memberB = await b.joinGroup(group, 'shared', listenerB);
    await waitFor(() => memberA.owned().length > 0 && memberB.owned().length > 0 && memberA.owned().length + memberB.owned().length === 4, {
      what: 'the partitions to be split between the members',
      timeoutMs: 30_000,
    });
    expect(sorted([...memberA.owned(), ...memberB.owned()])).toEqual(['0', '1', '2', '3']);
    expect(sorted(listenerA.owned)).toEqual(sorted(memberA.owned()));
    expect(sorted(listenerB.owned)).toEqual(sorted(memberB.owned()));
    expect(listenerA.calls).toContain(`revoked ${sorted(memberB.owned()).join(',')}`);

    // While the group has live members, commits go through a member's generation...
    await a.commit(group, 'shared', new Map([['0', '9'], ['2', '4']]));
    expect(await outsider.committed(group, 'shared')).toEqual(new Map([['0', '9'], ['2', '4']]));
    // ...and a process outside the group is told why it cannot commit.
    await expect(outsider.commit(group, 'shared', new Map([['1', '1']]))).rejects.toThrow(/live members/);

    await memberB.leave();
    expect(memberB.owned()).toEqual([]);
    expect(listenerB.owned.size).toBe(0);
    await waitFor(() => memberA.owned().length === 4, { what: 'the survivor to own every partition', timeoutMs: 30_000 });
    expect(sorted(listenerA.owned)).toEqual(['0', '1', '2', '3']);
    await memberA.leave();
    expect(listenerA.owned.size).toBe(0);
  });

  it('gives a SIGKILLed member’s partitions to the survivor within the session timeout', async () => {
    buildOnce();
    const group = `${prefix}killed`;
    const survivorLog = open();
    await survivorLog.partitions('kill'); // the topic exists before either member joins
    const survivor = await survivorLog.joinGroup(group, 'kill', recordingListener());
    expect(survivor.owned()).toHaveLength(4);

    let childOwned: string[] = [];
    const output: string[] = [];
    const child: ChildProcess = spawn(process.execPath, [path.join(ROOT, 'dist/libs/stream/src/kafka/testing/group-member-process.js')], {
      env: {
        ...process.env,
        KAFKA_BROKERS: testBrokers().join(','),
        KAFKA_TOPIC_PREFIX: prefix,
        STREAM_PARTITIONS: '4',
        KAFKA_GROUP: group,
        KAFKA_STREAM: 'kill',
        KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    child.stdout!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        output.push(line);
        childOwned = (JSON.parse(line) as { owned: string[] }).owned;
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    try {
      await waitFor(() => childOwned.length > 0 && survivor.owned().length + childOwned.length === 4, {
        what: `the child member to get a share (child output: ${output.join(' | ')})`,
        timeoutMs: 60_000,
      });
      expect(sorted([...survivor.owned(), ...childOwned])).toEqual(['0', '1', '2', '3']);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    // No LeaveGroup was sent: the broker notices only when the session times out.
    await waitFor(() => survivor.owned().length === 4, {
      what: 'the survivor to take over the killed member’s partitions',
      timeoutMs: SESSION_TIMEOUT_MS + 20_000,
    });
    await survivor.leave();
  });
});
