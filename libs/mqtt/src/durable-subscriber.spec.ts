import mqtt from 'mqtt';
import { waitFor } from '@meterstream/test-harness';
import { DurableSubscriber, type InboundMessage } from './durable-subscriber';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker';

async function publishAll(url: string, count: number, prefix = 'm'): Promise<void> {
  const client = await mqtt.connectAsync(url, { clientId: `pub-${prefix}-${Date.now()}` });
  await Promise.all(Array.from({ length: count }, (_, i) => client.publishAsync('line/L01/SmartMeterData', `${prefix}${i}`, { qos: 1 })));
  await client.endAsync();
}

describe('DurableSubscriber', () => {
  let broker: EmbeddedBroker;
  beforeEach(async () => {
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
  });
  afterEach(async () => broker.close());

  it('receives every QoS 1 message and commits them in groups', async () => {
    const received: InboundMessage[] = [];
    const batchSizes: number[] = [];
    const subscriber = new DurableSubscriber({
      url: broker.url,
      clientId: 'bridge-a',
      topics: ['line/+/SmartMeterData'],
      handleBatch: async (batch) => {
        batchSizes.push(batch.length);
        await new Promise((r) => setTimeout(r, 5)); // a commit takes time; messages pile up meanwhile
        received.push(...batch);
      },
    });
    await subscriber.start();
    await publishAll(broker.url, 2000);
    await waitFor(() => received.length === 2000, { what: '2000 messages', timeoutMs: 20_000 });
    expect(new Set(received.map((m) => m.payload.toString())).size).toBe(2000);
    expect(received[0]).toEqual({ topic: 'line/L01/SmartMeterData', payload: Buffer.from('m0'), qos: 1 });
    expect(Math.max(...batchSizes)).toBeGreaterThan(1);
    await waitFor(() => subscriber.counters.acknowledged === 2000, { what: 'all acknowledged' });
    await subscriber.stop();
  });

  it('gets back, after a crash, every message it had not acknowledged', async () => {
    const durable: string[] = [];
    let block = true;
    const first = new DurableSubscriber({
      url: broker.url,
      clientId: 'bridge-b',
      topics: ['line/+/SmartMeterData'],
      handleBatch: async (batch) => {
        if (block) await new Promise(() => undefined); // never becomes durable: the process "dies" here
        durable.push(...batch.map((m) => m.payload.toString()));
      },
    });
    await first.start();
    await publishAll(broker.url, 50, 'x');
    await waitFor(() => first.counters.received > 0, { what: 'first delivery' });
    // Simulate SIGKILL: the socket drops without a DISCONNECT and nothing was acknowledged.
    (first as unknown as { socket: { destroy(): void } }).socket.destroy();
    (first as unknown as { stopped: boolean }).stopped = true;

    block = false;
    const second = new DurableSubscriber({
      url: broker.url,
      clientId: 'bridge-b',
      topics: ['line/+/SmartMeterData'],
      handleBatch: async (batch) => {
        durable.push(...batch.map((m) => m.payload.toString()));
      },
    });
    await second.start();
    await waitFor(() => new Set(durable).size === 50, { what: 'all 50 redelivered', timeoutMs: 20_000 });
    expect([...new Set(durable)].sort()).toEqual(Array.from({ length: 50 }, (_, i) => `x${i}`).sort());
    await second.stop();
  });

  it('does not acknowledge a batch whose commit failed, and retries it', async () => {
    let failures = 1;
    const durable: string[] = [];
    const errors: Error[] = [];
    const subscriber = new DurableSubscriber({
      url: broker.url,
      clientId: 'bridge-c',
      topics: ['line/+/SmartMeterData'],
      handleBatch: async (batch) => {
        if (failures-- > 0) throw new Error('disk full');
        durable.push(...batch.map((m) => m.payload.toString()));
      },
    });
    subscriber.on('batch-error', (e) => errors.push(e));
    await subscriber.start();
    await publishAll(broker.url, 10, 'r');
    await waitFor(() => durable.length === 10, { what: 'retried batch' });
    expect(errors.map((e) => e.message)).toEqual(['disk full']);
    expect(subscriber.counters.acknowledged).toBe(10);
    await subscriber.stop();
  });

  it('at stop, leaves a batch that could not be committed unacknowledged, so the broker redelivers it', async () => {
    const errors: string[] = [];
    const first = new DurableSubscriber({
      url: broker.url,
      clientId: 'bridge-e',
      topics: ['line/+/SmartMeterData'],
      handleBatch: async () => {
        throw new Error('store unavailable');
      },
    });
    first.on('batch-error', (e: Error) => errors.push(e.message));
    await first.start();
    await publishAll(broker.url, 50, 's');
    await waitFor(() => errors.length > 0 && first.counters.received === 50, { what: 'a failed commit of all 50' });
    await first.stop(); // SIGTERM while the batch still fails
    expect(first.counters.acknowledged).toBe(0);

    const durable = new Set<string>();
    const second = new DurableSubscriber({
      url: broker.url,
      clientId: 'bridge-e',
      topics: ['line/+/SmartMeterData'],
      handleBatch: async (batch) => batch.forEach((m) => durable.add(m.payload.toString())),
    });
    await second.start();
    await waitFor(() => durable.size === 50, { what: 'all 50 redelivered', timeoutMs: 20_000 });
    await second.stop();
  });

  it('receives messages on malformed topics under line/# without being disconnected', async () => {
    const topics: string[] = [];
    const subscriber = new DurableSubscriber({
      url: broker.url,
      clientId: 'bridge-f',
      topics: ['line/#'],
      handleBatch: async (batch) => void topics.push(...batch.map((m) => m.topic)),
    });
    const disconnects: string[] = [];
    subscriber.on('disconnect', (reason: string) => disconnects.push(reason));
    await subscriber.start();
    const client = await mqtt.connectAsync(broker.url, { clientId: `pub-topics-${Date.now()}` });
    const sent = ['line//SmartMeterData', 'line/a/b/SmartMeterData', 'line/%00/SmartMeterData', 'line/L01/SmartMeterData'];
    for (const topic of sent) await client.publishAsync(topic, '{}', { qos: 1 });
    await client.endAsync();
    await waitFor(() => topics.length === sent.length, { what: 'every topic delivered' });
    expect(topics.sort()).toEqual([...sent].sort());
    expect(disconnects).toEqual([]);
    await subscriber.stop();
  });

  it('fails start() with a clear message when the broker rejects its credentials', async () => {
    const secured = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, service: { username: 'meter', password: 'right' } });
    const subscriber = new DurableSubscriber({
      url: secured.url,
      clientId: 'bridge-d',
      topics: ['line/+/SmartMeterData'],
      username: 'meter',
      password: 'wrong',
      handleBatch: async () => undefined,
    });
    subscriber.on('error', () => undefined);
    await expect(subscriber.start()).rejects.toThrow('bad username or password');
    await subscriber.stop();
    await secured.close();
  });
});

describe('startEmbeddedBroker', () => {
  it('refuses to listen beyond loopback without credentials', async () => {
    await expect(startEmbeddedBroker({ host: '0.0.0.0', port: 0 })).rejects.toThrow('MQTT_DEVICE_USERNAME');
  });
});
