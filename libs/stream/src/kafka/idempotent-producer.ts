import { Partitioners, type Kafka, type Producer, type TopicMessages } from 'kafkajs';

/**
 * A kafkajs idempotent producer used one request at a time: acks from all in-sync replicas, one
 * request in flight, so kafkajs's retries after a lost connection neither duplicate nor reorder
 * records. Sends are serialised here too (kafkajs's sequence numbers assume it).
 *
 * After a send fails for good, the producer's sequence numbers may no longer match what the
 * broker stored (the request may have been written after all); the next send would then be
 * mistaken for a duplicate and dropped. So a failed producer is replaced by a fresh one (a new
 * producer id). The caller retries the failed records: at-least-once, and ids dedupe downstream.
 */
export class IdempotentProducer {
  private producer: Promise<Producer> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly kafka: Kafka) {}

  /** Resolves once every message is acknowledged by all in-sync replicas. */
  send(topicMessages: TopicMessages[]): Promise<void> {
    const sent = this.queue.then(() => this.sendNow(topicMessages));
    this.queue = sent.catch(() => undefined);
    return sent;
  }

  async close(): Promise<void> {
    await this.queue;
    const producer = this.producer;
    this.producer = null;
    if (producer) await producer.then((p) => p.disconnect()).catch(() => undefined);
  }

  private async sendNow(topicMessages: TopicMessages[]): Promise<void> {
    const producer = await this.connect();
    try {
      await producer.sendBatch({ acks: -1, topicMessages });
    } catch (error) {
      const broken = this.producer;
      this.producer = null;
      void broken?.then((p) => p.disconnect()).catch(() => undefined);
      throw error;
    }
  }

  private connect(): Promise<Producer> {
    if (this.producer === null) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // Unused (callers name each message's partition); stated to silence kafkajs's v2 notice.
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      const connected = producer.connect().then(() => producer);
      connected.catch(() => {
        if (this.producer === connected) this.producer = null;
      });
      this.producer = connected;
    }
    return this.producer;
  }
}
