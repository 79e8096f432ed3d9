/**
 * One distributed stream processor on Kafka in its own OS process, for the scale-out engine spec
 * (which SIGKILLs one of two): the service configuration from the environment, plus
 *   READ_MODEL_FILE           the SQLite read model the instances share (one host);
 *   PROCESSOR_GROUP           the consumer group (unique per test run);
 *   KAFKA_SESSION_TIMEOUT_MS  how soon the broker notices a killed member.
 * Checkpoints go to the Kafka compacted-topic store, as on ECS. Prints one JSON line of status
 * whenever it changes ({ owned, readings, aggregates, checkpoints }); SIGTERM stops it at a
 * checkpoint. It stands in for the service's main until that wires STREAM_BACKEND=kafka.
 */
import { loadConfig } from '@meterstream/config';
import { SqliteReadModel } from '@meterstream/read-model';
import { KafkaCheckpointStore } from '../../../../../libs/stream/src/kafka-checkpoint-store';
import { KafkaStreamLog } from '../../../../../libs/stream/src/kafka';
import { createDistributedProcessor } from '../create-distributed-processor';

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const warn = (message: string) => process.stderr.write(`${message}\n`);
  const log = KafkaStreamLog.fromConfig(config, { group: { sessionTimeoutMs: Number(required('KAFKA_SESSION_TIMEOUT_MS')) }, logger: { warn } });
  const checkpoints = KafkaCheckpointStore.fromConfig(config);
  const readModel = SqliteReadModel.open(required('READ_MODEL_FILE'));
  const processor = createDistributedProcessor(
    config,
    { log, readModel, checkpoints, onError: (err) => warn(`processor: ${err.message}`) },
    // Small batches and frequent checkpoints: the test kills an instance between checkpoints.
    { group: required('PROCESSOR_GROUP'), maxRecordsPerPartition: 250, checkpointEveryBatches: 5, checkpointIntervalMs: 500 },
  );

  let last = '';
  const report = () => {
    const { readings, aggregates, checkpoints: saved } = processor.counters;
    const status = JSON.stringify({ owned: processor.ownedPartitions(), readings, aggregates, checkpoints: saved });
    if (status !== last) process.stdout.write(`${status}\n`);
    last = status;
  };
  const reporter = setInterval(report, 50);
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    (async () => {
      await processor.stop();
      clearInterval(reporter);
      report();
      await Promise.allSettled([log.close(), checkpoints.close(), readModel.close()]);
      process.exit(0);
    })().catch((err: unknown) => {
      warn(`kafka-processor-process: stop failed: ${err instanceof Error ? err.stack : String(err)}`);
      process.exit(1);
    });
  });
  await processor.start();
  report();
}

main().catch((err: unknown) => {
  process.stderr.write(`kafka-processor-process: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
