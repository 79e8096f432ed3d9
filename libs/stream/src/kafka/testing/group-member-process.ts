/**
 * A consumer-group member in its own process, for the engine spec that SIGKILLs a member: joins
 * KAFKA_GROUP on KAFKA_STREAM and prints one JSON line `{"owned":[...]}` after every change of
 * its partitions. Never leaves on its own: the test kills it.
 */
import { KafkaStreamLog } from '../../kafka';

async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (value === undefined) throw new Error(`${name} is required`);
    return value;
  };
  const log = new KafkaStreamLog({
    brokers: env('KAFKA_BROKERS').split(','),
    clientId: 'group-member-process',
    topicPrefix: env('KAFKA_TOPIC_PREFIX'),
    partitions: Number(env('STREAM_PARTITIONS')),
    group: { sessionTimeoutMs: Number(env('KAFKA_SESSION_TIMEOUT_MS')) },
    logger: { warn: (message) => process.stderr.write(`${message}\n`) },
  });
  let owned: string[] = [];
  const report = () => process.stdout.write(`${JSON.stringify({ owned })}\n`);
  await log.joinGroup(env('KAFKA_GROUP'), env('KAFKA_STREAM'), {
    assigned: async (partitions) => {
      owned = [...owned, ...partitions].sort((a, b) => Number(a) - Number(b));
      report();
    },
    revoked: async (partitions) => {
      owned = owned.filter((p) => !partitions.includes(p));
      report();
    },
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`group-member-process: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
