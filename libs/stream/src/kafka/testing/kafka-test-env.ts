import * as net from 'node:net';
import { randomBytes } from 'node:crypto';

/** The broker the engine specs use: KAFKA_BROKERS, default the one scripts/engines/kafka.sh starts. */
export function testBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:19092').split(',').map((b) => b.trim());
}

/** Fails (never skips) with how to start the broker when the first broker does not accept a connection. */
export async function assertKafkaReachable(): Promise<void> {
  const [broker] = testBrokers();
  const [host, port] = broker.split(':');
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port: Number(port) });
    socket.setTimeout(3000);
    const fail = (why: string) => {
      socket.destroy();
      reject(new Error(`Kafka is not reachable at ${broker} (${why}): start it with \`bash scripts/engines/kafka.sh\` or set KAFKA_BROKERS`));
    };
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => fail('timed out'));
    socket.once('error', (e) => fail(e.message));
  });
}

/** A topic prefix no earlier run used, so reruns against the same broker never collide. */
export function uniqueTopicPrefix(label: string): string {
  return `test.${label}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}.`;
}

/** Collects kafkajs warnings instead of printing them (KAFKA_TEST_LOG=1 prints them too). */
export function collectingLogger(): { warn(message: string): void; messages: string[] } {
  const messages: string[] = [];
  const print = process.env.KAFKA_TEST_LOG === '1';
  return {
    messages,
    warn: (message: string) => {
      messages.push(message);
      if (print) console.warn(message);
    },
  };
}
