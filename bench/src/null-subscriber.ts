import { DurableSubscriber } from '@meterstream/mqtt';

/**
 * Child process of the benchmark: the bridge's MQTT subscriber (persistent session, QoS 1, ack
 * after "commit") with no work behind it, to measure what the broker alone can carry.
 */
async function main(): Promise<void> {
  const [url, expected] = process.argv.slice(2);
  let received = 0;
  const subscriber = new DurableSubscriber({
    url,
    clientId: `bench-null-${process.pid}`,
    topics: ['line/+/SmartMeterData'],
    handleBatch: async (batch) => {
      received += batch.length;
      if (received >= Number(expected)) {
        process.stdout.write(`${JSON.stringify({ event: 'received', t: Date.now(), received })}\n`);
        setImmediate(() => void subscriber.stop().then(() => process.exit(0)));
      }
    },
  });
  await subscriber.start();
  process.stdout.write(`${JSON.stringify({ event: 'subscribed', t: Date.now() })}\n`);
}

main().catch((err: Error) => {
  console.error(`null subscriber: ${err.message}`);
  process.exit(1);
});
