import type { Consumer, Kafka, RetryOptions } from 'kafkajs';
import type { GroupListener, GroupMembership } from '../stream-log';
import { describeKafkaError, type KafkaLogger } from './connection';

export interface GroupMemberOptions {
  /** The broker drops a member it has not heard from for this long (a SIGKILLed process). Default 10 s. */
  sessionTimeoutMs?: number;
  /** How often the member heartbeats, and so how soon it notices a rebalance. Default 1 s. */
  heartbeatIntervalMs?: number;
  /** How long the broker waits for every member to rejoin during a rebalance. Default 30 s. */
  rebalanceTimeoutMs?: number;
  /** How long joinGroup() waits for the first assignment before failing. Default 60 s. */
  joinTimeoutMs?: number;
  retry?: RetryOptions;
}

/**
 * joining: before the first assignment; member: assigned; rebalancing / restarting: kafkajs is
 * rejoining (a rebalance, a lost connection, or a fresh consumer after kafkajs gave up); left.
 */
type MemberState = 'joining' | 'member' | 'rebalancing' | 'restarting' | 'left';

/** Waits between fresh consumers when kafkajs gives up on one: 1 s doubling to 30 s. */
const REJOIN_BACKOFF_MS = { first: 1000, max: 30_000 };

/**
 * A member of a Kafka consumer group that only takes part in the group protocol: its partitions
 * are read through the stream log's read(), so its kafkajs consumer stays paused and never
 * fetches or commits on its own, while kafkajs keeps heartbeating so the broker sees it alive.
 *
 * Each assignment kafkajs reports (the first join and every rebalance) is compared with the
 * previous one: partitions taken away go to listener.revoked(), new ones to listener.assigned(),
 * one call at a time and in that order. kafkajs has no "before rejoin" hook, so a partition
 * moved by a rebalance may be in flight at its old owner for one batch after the new owner got
 * it; the processor's deterministic, idempotent outputs and newest-wins checkpoints absorb that.
 *
 * kafkajs restarts its consumer by itself after retriable errors (a broker restart). When it
 * gives up (an error it deems final), the member revokes everything (kafkajs has left the group,
 * the others take the partitions) and joins again with a fresh consumer, until leave().
 */
export class KafkaGroupMember implements GroupMembership {
  private consumer: Consumer;
  private current: string[] = [];
  private state: MemberState = 'joining';
  private changes: Promise<void> = Promise.resolve();
  private joinedWaiters: (() => void)[] = [];
  private rejoinTimer: NodeJS.Timeout | null = null;
  private rejoinBackoffMs = REJOIN_BACKOFF_MS.first;
  /** Settles the first assignment joinGroup() waits for; null once it has. */
  private settleFirst: ((error?: unknown) => void) | null = null;

  private constructor(
    private readonly kafka: Kafka,
    readonly groupId: string,
    readonly topic: string,
    private readonly listener: GroupListener,
    private readonly logger: KafkaLogger,
    private readonly options: GroupMemberOptions,
  ) {
    this.consumer = this.newConsumer();
  }

  static async join(
    kafka: Kafka,
    groupId: string,
    topic: string,
    listener: GroupListener,
    logger: KafkaLogger,
    options: GroupMemberOptions = {},
  ): Promise<KafkaGroupMember> {
    const member = new KafkaGroupMember(kafka, groupId, topic, listener, logger, options);
    await member.firstJoin(options.joinTimeoutMs ?? 60_000);
    return member;
  }

  owned(): string[] {
    return [...this.current];
  }

  /** Commits offsets (Kafka's next-to-read) as this member, waiting out a rebalance or rejoin in progress. */
  async commit(offsets: { partition: number; offset: string }[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.untilMember(deadline - Date.now(), 'commit offsets');
      // kafkajs's commitOffsets quietly does nothing while its runner is (re)starting, even just
      // after the join event; only its COMMIT_OFFSETS event proves the broker took the commit.
      const consumer = this.consumer;
      let committed = false;
      const stopListening = consumer.on(consumer.events.COMMIT_OFFSETS, ({ payload }) => {
        if (payload.topics.some((t) => t.topic === this.topic)) committed = true;
      });
      try {
        await consumer.commitOffsets(offsets.map(({ partition, offset }) => ({ topic: this.topic, partition, offset })));
      } finally {
        stopListening();
      }
      if (committed) return;
      if (Date.now() >= deadline) {
        throw new Error(`could not commit offsets of Kafka group "${this.groupId}" within ${timeoutMs} ms: the member kept rejoining`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Stops using the partitions first (revoked), then leaves so the others take them over at once. */
  async leave(): Promise<void> {
    if (this.state === 'left') return;
    this.state = 'left';
    if (this.rejoinTimer !== null) clearTimeout(this.rejoinTimer);
    this.rejoinTimer = null;
    this.enqueue(async () => {
      const gone = this.current;
      this.current = [];
      if (gone.length > 0) await this.listener.revoked(gone);
    });
    await this.changes;
    await this.consumer.disconnect();
  }

  /** False once left. */
  isActive(): boolean {
    return this.state !== 'left';
  }

  private newConsumer(): Consumer {
    const heartbeatInterval = this.options.heartbeatIntervalMs ?? 1000;
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval,
      rebalanceTimeout: this.options.rebalanceTimeoutMs ?? 30_000,
      // A paused consumer sleeps this long between heartbeats: keep it at the heartbeat pace.
      maxWaitTimeInMs: heartbeatInterval,
      allowAutoTopicCreation: false,
      retry: this.options.retry,
    });
    const { GROUP_JOIN, REBALANCING, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      if (consumer !== this.consumer) return;
      // Pause on every join: after a restart kafkajs builds a fresh, unpaused group state.
      consumer.pause([{ topic: this.topic }]);
      if (this.state === 'left') return;
      this.state = 'member';
      this.rejoinBackoffMs = REJOIN_BACKOFF_MS.first;
      const partitions = (payload.memberAssignment[this.topic] ?? []).map(String);
      const applied = this.enqueue(() => this.apply(partitions));
      const settle = this.settleFirst;
      this.settleFirst = null;
      if (settle) applied.then(() => settle(), (error: unknown) => settle(error ?? new Error('group listener failed')));
      for (const wake of this.joinedWaiters.splice(0)) wake();
    });
    consumer.on(REBALANCING, () => {
      if (consumer === this.consumer && this.state === 'member') this.state = 'rebalancing';
    });
    consumer.on(CRASH, ({ payload }) => {
      if (consumer !== this.consumer || this.state === 'left') return;
      this.state = 'restarting';
      if (payload.restart) {
        this.logger.warn(`Kafka group ${this.groupId}: member lost its connection (${describeKafkaError(payload.error)}); kafkajs rejoins`);
        return;
      }
      // kafkajs gave up on this consumer and left the group: the others take its partitions, so
      // stop using them now. Before the first assignment that fails joinGroup(); after it, a fresh
      // consumer joins again.
      this.logger.warn(`Kafka group ${this.groupId}: member stopped after an error kafkajs does not retry: ${describeKafkaError(payload.error)}`);
      this.enqueue(() => this.apply([]));
      const settle = this.settleFirst;
      this.settleFirst = null;
      if (settle) settle(payload.error);
      else this.scheduleRejoin();
    });
    return consumer;
  }

  private async firstJoin(joinTimeoutMs: number): Promise<void> {
    const first = new Promise<void>((resolve, reject) => {
      this.settleFirst = (error) => (error === undefined ? resolve() : reject(error));
    });
    first.catch(() => undefined); // awaited below; may settle before that
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.run(this.consumer);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no assignment from Kafka group "${this.groupId}" on topic ${this.topic} within ${joinTimeoutMs} ms`)),
          joinTimeoutMs,
        );
      });
      await Promise.race([first, timeout]);
    } catch (error) {
      this.state = 'left';
      this.settleFirst = null;
      await this.consumer.disconnect().catch(() => undefined);
      throw new Error(`could not join Kafka group "${this.groupId}" on topic ${this.topic}: ${describeKafkaError(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private async run(consumer: Consumer): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic] });
    await consumer.run({
      autoCommit: false,
      // Offsets never move in memory either: the records are read elsewhere.
      eachBatchAutoResolve: false,
      eachBatch: async ({ pause }) => {
        pause(); // belt and braces: a batch fetched before the pause took effect
      },
    });
  }

  private scheduleRejoin(): void {
    if (this.state === 'left' || this.rejoinTimer !== null) return;
    const wait = this.rejoinBackoffMs;
    this.rejoinBackoffMs = Math.min(wait * 2, REJOIN_BACKOFF_MS.max);
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = null;
      if (this.state === 'left') return;
      const previous = this.consumer;
      this.consumer = this.newConsumer();
      void previous
        .disconnect()
        .catch(() => undefined)
        .then(() => (this.state === 'left' ? undefined : this.run(this.consumer)))
        .catch((error: unknown) => {
          this.logger.warn(`Kafka group ${this.groupId}: could not join again: ${describeKafkaError(error)}; retrying`);
          this.scheduleRejoin();
        });
    }, wait);
  }

  private async apply(assignment: string[]): Promise<void> {
    const next = new Set(assignment);
    const revoked = this.current.filter((p) => !next.has(p));
    const added = assignment.filter((p) => !this.current.includes(p));
    if (revoked.length > 0) {
      this.current = this.current.filter((p) => next.has(p));
      await this.listener.revoked(revoked);
    }
    if (added.length > 0) {
      this.current = [...this.current, ...added].sort((a, b) => Number(a) - Number(b));
      await this.listener.assigned(added);
    }
  }

  /** Runs assignment changes one at a time; a listener that throws is reported, not fatal. */
  private enqueue(change: () => Promise<void>): Promise<void> {
    const run = this.changes.then(change);
    this.changes = run.catch((error: unknown) => {
      this.logger.warn(`Kafka group ${this.groupId}: the group listener failed: ${describeKafkaError(error)}`);
    });
    run.catch(() => undefined); // reported just above; a caller that awaits `run` still sees the error
    return run;
  }

  private async untilMember(timeoutMs: number, what: string): Promise<void> {
    if (this.state === 'member') return;
    if (this.state === 'left') throw new Error(`cannot ${what}: this process left Kafka group "${this.groupId}"`);
    if (timeoutMs <= 0) throw new Error(`cannot ${what}: Kafka group "${this.groupId}" is still rejoining`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.joinedWaiters = this.joinedWaiters.filter((w) => w !== wake);
        reject(new Error(`cannot ${what}: Kafka group "${this.groupId}" did not finish rejoining within ${timeoutMs} ms`));
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.joinedWaiters.push(wake);
    });
  }
}
