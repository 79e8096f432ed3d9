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

type MemberState = 'joining' | 'member' | 'rebalancing' | 'restarting' | 'failed' | 'left';

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
 */
export class KafkaGroupMember implements GroupMembership {
  private current: string[] = [];
  private state: MemberState = 'joining';
  private changes: Promise<void> = Promise.resolve();
  private joinedWaiters: (() => void)[] = [];
  private firstAssignment: Promise<void> = Promise.resolve();

  private constructor(
    private readonly consumer: Consumer,
    readonly groupId: string,
    readonly topic: string,
    private readonly listener: GroupListener,
    private readonly logger: KafkaLogger,
  ) {}

  static async join(
    kafka: Kafka,
    groupId: string,
    topic: string,
    listener: GroupListener,
    logger: KafkaLogger,
    options: GroupMemberOptions = {},
  ): Promise<KafkaGroupMember> {
    const heartbeatInterval = options.heartbeatIntervalMs ?? 1000;
    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 30_000,
      // A paused consumer sleeps this long between heartbeats checks: keep it at the heartbeat pace.
      maxWaitTimeInMs: heartbeatInterval,
      allowAutoTopicCreation: false,
      retry: options.retry,
    });
    const member = new KafkaGroupMember(consumer, groupId, topic, listener, logger);
    await member.start(options.joinTimeoutMs ?? 60_000);
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
      let committed = false;
      const stopListening = this.consumer.on(this.consumer.events.COMMIT_OFFSETS, ({ payload }) => {
        if (payload.topics.some((t) => t.topic === this.topic)) committed = true;
      });
      try {
        await this.consumer.commitOffsets(offsets.map(({ partition, offset }) => ({ topic: this.topic, partition, offset })));
      } finally {
        stopListening();
      }
      if (committed) return;
      if (Date.now() >= deadline) throw new Error(`could not commit offsets of Kafka group "${this.groupId}" within ${timeoutMs} ms: the member kept rejoining`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Stops using the partitions first (revoked), then leaves so the others take them over at once. */
  async leave(): Promise<void> {
    if (this.state === 'left') return;
    this.state = 'left';
    this.enqueue(async () => {
      const gone = this.current;
      this.current = [];
      if (gone.length > 0) await this.listener.revoked(gone);
    });
    await this.changes;
    await this.consumer.disconnect();
  }

  /** True while kafkajs runs the consumer (a member, or rejoining after a rebalance or error). */
  isActive(): boolean {
    return this.state !== 'failed' && this.state !== 'left';
  }

  private async start(joinTimeoutMs: number): Promise<void> {
    const { GROUP_JOIN, REBALANCING, CRASH } = this.consumer.events;
    // joinGroup() resolves once the first assignment is applied, and fails if the listener does.
    let settleFirst: ((error?: unknown) => void) | null = null;
    this.firstAssignment = new Promise<void>((resolve, reject) => {
      settleFirst = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.consumer.on(GROUP_JOIN, ({ payload }) => {
      // Pause again on every join: after a crash-restart kafkajs builds a fresh, unpaused group state.
      this.consumer.pause([{ topic: this.topic }]);
      if (this.state === 'left') return;
      this.state = 'member';
      const partitions = (payload.memberAssignment[this.topic] ?? []).map(String);
      const applied = this.enqueue(() => this.apply(partitions));
      const settle = settleFirst;
      settleFirst = null;
      if (settle) applied.then(() => settle(), (error: unknown) => settle(error ?? new Error('group listener failed')));
      for (const wake of this.joinedWaiters.splice(0)) wake();
    });
    this.consumer.on(REBALANCING, () => {
      if (this.state === 'member') this.state = 'rebalancing';
    });
    this.consumer.on(CRASH, ({ payload }) => {
      if (this.state === 'left') return;
      if (payload.restart) {
        this.state = 'restarting';
        this.logger.warn(`Kafka group ${this.groupId}: member lost its connection (${describeKafkaError(payload.error)}); rejoining`);
        return;
      }
      // kafkajs gave up on this consumer: its partitions go to the other members once its session
      // expires, so stop using them now.
      this.state = 'failed';
      this.logger.warn(`Kafka group ${this.groupId}: member stopped after an error it cannot retry: ${describeKafkaError(payload.error)}`);
      this.enqueue(() => this.apply([]));
    });

    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [this.topic] });
      await this.consumer.run({
        autoCommit: false,
        // Offsets never move in memory either: the records are read elsewhere.
        eachBatchAutoResolve: false,
        eachBatch: async ({ pause }) => {
          pause(); // belt and braces: a batch fetched before the pause took effect
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no assignment from Kafka group "${this.groupId}" on topic ${this.topic} within ${joinTimeoutMs} ms`)),
          joinTimeoutMs,
        );
      });
      try {
        await Promise.race([this.firstAssignment, timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (error) {
      this.state = 'left';
      await this.consumer.disconnect().catch(() => undefined);
      throw new Error(`could not join Kafka group "${this.groupId}" on topic ${this.topic}: ${describeKafkaError(error)}`, { cause: error });
    }
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
    return run;
  }

  private async untilMember(timeoutMs: number, what: string): Promise<void> {
    if (this.state === 'member') return;
    if (timeoutMs <= 0) throw new Error(`cannot ${what}: Kafka group "${this.groupId}" is still rejoining`);
    if (!this.isActive()) throw new Error(`cannot ${what}: this process is no longer a member of Kafka group "${this.groupId}" (${this.state})`);
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
