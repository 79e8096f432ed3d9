import mqtt from 'mqtt';
import { closingMessages, workloadMessages, type Workload } from './workload';

/**
 * Child process of the benchmark: publishes the workload with QoS 1 as fast as the broker takes
 * it (a bounded number awaiting PUBACK), then the closing readings. Reports on stdout as JSON lines.
 */
async function main(): Promise<void> {
  const [url, json] = process.argv.slice(2);
  const workload = JSON.parse(json) as Workload;
  const messages = workloadMessages(workload);
  const client = await mqtt.connectAsync(url, { clientId: `bench-publisher-${process.pid}`, clean: true });
  const report = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);
  // Refill in bursts: publishes issued in one turn of the event loop leave in one socket write
  // (mqtt-packet corks until the next tick), instead of one syscall per message.
  const window = Math.max(100, Math.round(4000 / workload.readingsPerMessage));
  let next = 0;
  let inFlight = 0;
  report({ event: 'start', t: Date.now(), messages: messages.length });
  await new Promise<void>((resolve, reject) => {
    const acked = (err?: Error) => {
      if (err) return reject(err);
      inFlight--;
      if (next >= messages.length) {
        if (inFlight === 0) resolve();
      } else if (inFlight <= window / 2) {
        refill();
      }
    };
    const refill = () => {
      while (inFlight < window && next < messages.length) {
        const m = messages[next++];
        inFlight++;
        client.publish(m.topic, m.payload, { qos: 1 }, acked);
      }
    };
    refill();
  });
  report({ event: 'published', t: Date.now(), messages: messages.length });
  // One per meter, all in flight at once (a group commit acknowledges them together).
  await Promise.all(closingMessages(workload).map((m) => client.publishAsync(m.topic, m.payload, { qos: 1 })));
  await client.endAsync();
  report({ event: 'done', t: Date.now() });
}

main().catch((err: Error) => {
  console.error(`publisher: ${err.message}`);
  process.exit(1);
});
