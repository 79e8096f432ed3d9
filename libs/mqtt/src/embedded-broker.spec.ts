import mqtt, { type MqttClient } from 'mqtt';
import { waitFor } from '@meterstream/test-harness';
import { startEmbeddedBroker, type BrokerMessage, type EmbeddedBroker } from './embedded-broker';

const SERVICE = { username: 'meterstream-svc', password: 'service-secret' };
const DEVICE = { username: 'meter', password: 'device-secret' };
const READINGS = 'line/L01/SmartMeterData';

/** The SUBACK return codes a subscription got (mqtt.js rejects when any is the failure code 128). */
async function grantedCodes(client: MqttClient, filter: string | string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filter, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const packet = (err as { packet?: { granted: number[] } }).packet;
    if (!packet) throw err;
    return packet.granted;
  }
}

/** Resolves when the client's connection closes (the broker dropped it). */
function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

describe('startEmbeddedBroker with ingest: a PUBACK means durable', () => {
  let broker: EmbeddedBroker | undefined;
  const clients: MqttClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
    await broker?.close();
    broker = undefined;
  });

  it('acknowledges a publish only after the ingest commit holding it resolved, in groups', async () => {
    const committed: BrokerMessage[] = [];
    const batches: number[] = [];
    let release: () => void = () => undefined;
    let gate = new Promise<void>((resolve) => (release = resolve));
    broker = await startEmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      ingest: async (messages) => {
        batches.push(messages.length);
        await gate;
        committed.push(...messages);
      },
    });
    const client = await mqtt.connectAsync(broker.url, { clientId: 'meter-a', reconnectPeriod: 0 });
    clients.push(client);
    const acked: number[] = [];
    const publishes = Array.from({ length: 200 }, (_, i) => client.publishAsync(READINGS, `r${i}`, { qos: 1 }).then(() => acked.push(i)));
    await waitFor(() => batches.length > 0, { what: 'the first ingest commit to start' });
    await new Promise((r) => setTimeout(r, 300)); // the commit is held: nothing may be acknowledged meanwhile
    expect(acked).toEqual([]);
    release();
    gate = Promise.resolve();
    await Promise.all(publishes);
    expect(committed.map((m) => m.payload.toString()).sort()).toEqual(Array.from({ length: 200 }, (_, i) => `r${i}`).sort());
    expect(committed[0].topic).toBe(READINGS);
    expect(Math.max(...batches)).toBeGreaterThan(1);
    expect(broker.ingested()).toBe(200);
  });

  it('stops acknowledging while ingest cannot commit, and acknowledges once it can', async () => {
    let down = true;
    const errors: string[] = [];
    const committed: string[] = [];
    broker = await startEmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      ingest: async (messages) => {
        if (down) throw new Error('database is locked');
        committed.push(...messages.map((m) => m.payload.toString()));
      },
      onIngestError: (err) => errors.push(err.message),
    });
    const client = await mqtt.connectAsync(broker.url, { clientId: 'meter-b', reconnectPeriod: 0 });
    clients.push(client);
    let acked = 0;
    const publishes = Array.from({ length: 20 }, (_, i) => client.publishAsync(READINGS, `d${i}`, { qos: 1 }).then(() => acked++));
    await waitFor(() => errors.length >= 2, { what: 'two failed commits' });
    expect(acked).toBe(0);
    down = false;
    await Promise.all(publishes);
    expect(acked).toBe(20);
    expect(committed.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `d${i}`).sort());
    expect(errors[0]).toBe('database is locked');
  });

  it('hands malformed topics under line/ to ingest (to be dead-lettered) and keeps the publisher connected', async () => {
    const topics: string[] = [];
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, ingest: async (messages) => void topics.push(...messages.map((m) => m.topic)) });
    const client = await mqtt.connectAsync(broker.url, { clientId: 'meter-c', reconnectPeriod: 0 });
    clients.push(client);
    let disconnected = false;
    client.on('close', () => (disconnected = true));
    for (const topic of ['line//SmartMeterData', 'line/a/b/SmartMeterData', 'line/x', READINGS]) await client.publishAsync(topic, '{}', { qos: 1 });
    expect(topics).toEqual(['line//SmartMeterData', 'line/a/b/SmartMeterData', 'line/x', READINGS]);
    expect(disconnected).toBe(false);
  });
});

describe('startEmbeddedBroker permissions', () => {
  let broker: EmbeddedBroker;
  const ingested: string[] = [];
  const clients: MqttClient[] = [];
  const connect = async (options: mqtt.IClientOptions) => {
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, ...options });
    clients.push(client);
    return client;
  };
  beforeAll(async () => {
    broker = await startEmbeddedBroker({
      host: '127.0.0.1',
      port: 0,
      service: SERVICE,
      device: DEVICE,
      ingest: async (messages) => void ingested.push(...messages.map((m) => m.payload.toString())),
    });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });
  afterAll(async () => broker.close());

  it('lets a meter publish readings, which are ingested', async () => {
    const meter = await connect({ clientId: 'm-000001', ...DEVICE });
    await meter.publishAsync(READINGS, 'allowed', { qos: 1 });
    expect(ingested).toContain('allowed');
  });

  it('refuses a meter publishing an alert: the connection is closed and subscribers receive nothing', async () => {
    const operator = await connect({ clientId: 'meterstream-alerts-watch', ...SERVICE });
    const seen: string[] = [];
    operator.on('message', (_topic, payload) => seen.push(payload.toString()));
    await operator.subscribeAsync('alerts/#', { qos: 1 });
    const meter = await connect({ clientId: 'm-000002', ...DEVICE });
    const gone = closed(meter);
    meter.publish('alerts/line/L01', 'spoofed', { qos: 1 });
    await gone;
    // The service may publish alerts, and the subscriber gets those.
    const service = await connect({ clientId: 'meterstream-alert-publisher', ...SERVICE });
    await service.publishAsync('alerts/line/L01', 'genuine', { qos: 1 });
    await waitFor(() => seen.includes('genuine'), { what: 'the genuine alert' });
    expect(seen).toEqual(['genuine']);
  });

  it.each(['#', '$SYS/#', 'alerts/#', 'line/#', 'line/+/SmartMeterData'])('refuses a meter subscribing to %s', async (filter) => {
    const meter = await connect({ clientId: `m-sub-${filter.length}`, ...DEVICE });
    expect(await grantedCodes(meter, filter)).toEqual([128]);
  });

  it('lets the service subscribe to what it needs', async () => {
    const service = await connect({ clientId: 'meterstream-ops', ...SERVICE });
    expect(await grantedCodes(service, ['line/#', 'alerts/#'])).toEqual([1, 1]);
  });

  it("refuses a meter taking the bridge's client id, and keeps the service's session", async () => {
    const bridge = await connect({ clientId: 'meterstream-ingest-bridge', ...SERVICE, clean: false });
    let kicked = false;
    bridge.on('close', () => (kicked = true));
    await expect(mqtt.connectAsync(broker.url, { clientId: 'meterstream-ingest-bridge', ...DEVICE, reconnectPeriod: 0 })).rejects.toThrow(/Identifier rejected|reserved/i);
    await new Promise((r) => setTimeout(r, 200));
    expect(kicked).toBe(false);
  });

  it('refuses wrong credentials and anonymous clients when device credentials are set', async () => {
    await expect(mqtt.connectAsync(broker.url, { clientId: 'm-x', username: DEVICE.username, password: 'wrong', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password/i);
    await expect(mqtt.connectAsync(broker.url, { clientId: 'm-y', username: SERVICE.username, password: 'wrong', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password/i);
    await expect(mqtt.connectAsync(broker.url, { clientId: 'm-z', reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password/i);
  });
});

describe('startEmbeddedBroker on loopback without device credentials', () => {
  it('lets anonymous meters publish readings but still reserves alerts and service client ids', async () => {
    const ingested: string[] = [];
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, service: SERVICE, ingest: async (m) => void ingested.push(...m.map((x) => x.payload.toString())) });
    const meter = await mqtt.connectAsync(broker.url, { clientId: 'anon-meter', reconnectPeriod: 0 });
    try {
      await meter.publishAsync(READINGS, 'anon', { qos: 1 });
      expect(ingested).toEqual(['anon']);
      expect(await grantedCodes(meter, '#')).toEqual([128]);
      await expect(mqtt.connectAsync(broker.url, { clientId: 'meterstream-ingest-bridge', reconnectPeriod: 0 })).rejects.toThrow(/Identifier rejected|reserved/i);
      const gone = closed(meter);
      meter.publish('alerts/line/L01', 'spoofed', { qos: 1 });
      await gone;
    } finally {
      await meter.endAsync(true);
      await broker.close();
    }
  });

  it('refuses to listen beyond loopback without both sets of credentials', async () => {
    await expect(startEmbeddedBroker({ host: '0.0.0.0', port: 0, service: SERVICE })).rejects.toThrow('MQTT_DEVICE_USERNAME');
    await expect(startEmbeddedBroker({ host: '0.0.0.0', port: 0, device: DEVICE })).rejects.toThrow('MQTT_USERNAME');
  });
});
