import { EventEmitter } from 'node:events';
import type { Kafka } from 'kafkajs';
import { KafkaGroupMember } from './kafka/group-member';
import type { GroupListener } from './stream-log';

const TOPIC = 'ms.readings';
const EVENTS = {
  GROUP_JOIN: 'consumer.group_join',
  REBALANCING: 'consumer.rebalancing',
  CRASH: 'consumer.crash',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
} as const;

/** Just enough of a kafkajs consumer to drive the member: the test plays the broker's part. */
class FakeConsumer {
  readonly events = EVENTS;
  readonly emitter = new EventEmitter();
  paused = 0;
  running = false;
  disconnected = false;
  /** What commitOffsets does: by default kafkajs commits and reports it. */
  onCommit: (offsets: unknown[]) => void = (offsets) => this.emit('COMMIT_OFFSETS', { topics: [{ topic: TOPIC, partitions: offsets }] });
  commits: unknown[][] = [];

  on(event: string, listener: (e: { payload: unknown }) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }
  emit(event: keyof typeof EVENTS, payload: unknown): void {
    this.emitter.emit(EVENTS[event], { payload });
  }
  join(partitions: number[]): void {
    this.emit('GROUP_JOIN', { memberAssignment: { [TOPIC]: partitions } });
  }
  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async run(): Promise<void> {
    this.running = true;
  }
  pause(): void {
    this.paused++;
  }
  async commitOffsets(offsets: unknown[]): Promise<void> {
    this.commits.push(offsets);
    this.onCommit(offsets);
  }
  async disconnect(): Promise<void> {
    this.disconnected = true;
  }
}

function fakeKafka(): { kafka: Kafka; consumers: FakeConsumer[] } {
  const consumers: FakeConsumer[] = [];
  const kafka = {
    consumer: () => {
      const consumer = new FakeConsumer();
      consumers.push(consumer);
      return consumer;
    },
  } as unknown as Kafka;
  return { kafka, consumers };
}

function recordingListener(): GroupListener & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    assigned: async (p) => void calls.push(`assigned ${p.join(',')}`),
    revoked: async (p) => void calls.push(`revoked ${p.join(',')}`),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const quiet = { warn: () => undefined };

/** Joins, answering the first join with `partitions` once kafkajs's run() was called. */
async function joined(partitions: number[]) {
  const { kafka, consumers } = fakeKafka();
  const listener = recordingListener();
  const joining = KafkaGroupMember.join(kafka, 'g', TOPIC, listener, quiet, { joinTimeoutMs: 5000 });
  await settle();
  consumers[0].join(partitions);
  const member = await joining;
  return { member, listener, consumers };
}

describe('KafkaGroupMember (fake kafkajs consumer)', () => {
  it('resolves joinGroup after the first assignment was handed to the listener, and keeps the consumer paused', async () => {
    const { member, listener, consumers } = await joined([0, 1, 2, 3]);
    expect(listener.calls).toEqual(['assigned 0,1,2,3']);
    expect(member.owned()).toEqual(['0', '1', '2', '3']);
    expect(consumers[0].running).toBe(true);
    expect(consumers[0].paused).toBeGreaterThan(0);
  });

  it('tells the listener only what a rebalance changed: revoked first, then assigned', async () => {
    const { member, listener, consumers } = await joined([0, 1, 2, 3]);
    consumers[0].emit('REBALANCING', {});
    consumers[0].join([0, 2]);
    await settle();
    consumers[0].join([0, 2]); // same assignment again: nothing to say
    consumers[0].join([2, 3]);
    await settle();
    expect(listener.calls).toEqual(['assigned 0,1,2,3', 'revoked 1,3', 'revoked 0', 'assigned 3']);
    expect(member.owned()).toEqual(['2', '3']);
  });

  it('revokes everything when kafkajs gives up, then joins again with a fresh consumer', async () => {
    const { member, listener, consumers } = await joined([0, 1]);
    consumers[0].emit('CRASH', { error: new Error('final'), restart: false });
    await settle();
    expect(listener.calls).toEqual(['assigned 0,1', 'revoked 0,1']);
    expect(member.owned()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1200)); // the first rejoin backoff
    expect(consumers).toHaveLength(2);
    expect(consumers[0].disconnected).toBe(true);
    expect(consumers[1].running).toBe(true);
    consumers[0].join([0, 1, 2]); // a late event of the old consumer is ignored
    consumers[1].join([1]);
    await settle();
    expect(listener.calls).toEqual(['assigned 0,1', 'revoked 0,1', 'assigned 1']);
    await member.leave();
    expect(consumers[1].disconnected).toBe(true);
  });

  it('leaves kafkajs to restart after retriable errors, keeping the partitions meanwhile', async () => {
    const { member, listener, consumers } = await joined([0, 1]);
    consumers[0].emit('CRASH', { error: new Error('connection lost'), restart: true });
    consumers[0].join([0, 1]);
    await settle();
    expect(listener.calls).toEqual(['assigned 0,1']);
    expect(member.owned()).toEqual(['0', '1']);
    expect(consumers).toHaveLength(1);
  });

  it('retries a commit kafkajs dropped while restarting, and waits for the rejoin to commit', async () => {
    const { member, consumers } = await joined([0]);
    const consumer = consumers[0];
    let dropped = 1;
    consumer.onCommit = (offsets) => {
      if (dropped-- > 0) return; // the runner was not running: no commit, no event
      consumer.emit('COMMIT_OFFSETS', { topics: [{ topic: TOPIC, partitions: offsets }] });
    };
    await member.commit([{ partition: 0, offset: '5' }]);
    expect(consumer.commits).toHaveLength(2);

    consumer.emit('CRASH', { error: new Error('connection lost'), restart: true });
    const committing = member.commit([{ partition: 0, offset: '6' }]);
    await settle();
    expect(consumer.commits).toHaveLength(2); // waiting for the member to rejoin
    consumer.join([0]);
    await committing;
    expect(consumer.commits).toHaveLength(3);
    await expect(member.commit([{ partition: 0, offset: '7' }], 0)).resolves.toBeUndefined();
  });

  it('revokes on leave before disconnecting, and refuses commits afterwards', async () => {
    const { member, listener, consumers } = await joined([0, 1]);
    await member.leave();
    expect(listener.calls).toEqual(['assigned 0,1', 'revoked 0,1']);
    expect(consumers[0].disconnected).toBe(true);
    await expect(member.commit([{ partition: 0, offset: '1' }])).rejects.toThrow(/left Kafka group "g"/);
  });

  it('fails joinGroup with the listener’s error, and when no assignment comes in time', async () => {
    const { kafka, consumers } = fakeKafka();
    const failing: GroupListener = {
      assigned: async () => {
        throw new Error('checkpoint store down');
      },
      revoked: async () => undefined,
    };
    const joining = KafkaGroupMember.join(kafka, 'g', TOPIC, failing, quiet, { joinTimeoutMs: 5000 });
    await settle();
    consumers[0].join([0]);
    await expect(joining).rejects.toThrow(/could not join Kafka group "g".*checkpoint store down/);
    expect(consumers[0].disconnected).toBe(true);

    await expect(KafkaGroupMember.join(kafka, 'g', TOPIC, recordingListener(), quiet, { joinTimeoutMs: 50 })).rejects.toThrow(
      /no assignment from Kafka group "g".*within 50 ms/,
    );
  });
});
