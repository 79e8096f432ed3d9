import * as net from 'node:net';
import * as tls from 'node:tls';
import { loadConfig } from '@meterstream/config';
import { startEmbeddedBroker } from '@meterstream/mqtt';
import { issueCertificate, waitFor } from '@meterstream/test-harness';
import mqtt from 'mqtt';
import type { AlertChannel } from './alert-channel';
import { createAlertChannels, parseAlertChannelNames } from './create-alert-channels';
import { MqttAlertChannel } from './mqtt';
import { RateLimitedAlertChannel } from './rate-limited-channel';
import { SnsAlertChannel } from './sns';
import { alertFixture, startReceiver } from './testing/alert-fixtures';
import { WebhookAlertChannel } from './webhook';
import { verifyWebhookSignature } from './webhook-signature';

describe('createAlertChannels', () => {
  const opened: AlertChannel[] = [];
  afterEach(async () => {
    for (const channel of opened.splice(0)) await channel.close();
  });
  const create = (env: Record<string, string>) => {
    const channels = createAlertChannels(loadConfig(env));
    opened.push(...channels);
    return channels;
  };

  it('builds the listed channels, each rate limited to ALERT_CHANNEL_RATE_PER_MINUTE', () => {
    const channels = create({ ALERT_CHANNELS: ' MQTT , webhook ', MQTT_URL: 'mqtt://127.0.0.1:9', ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/hook', ALERT_WEBHOOK_SECRET: 's3cret', ALERT_CHANNEL_RATE_PER_MINUTE: '12' });
    expect(channels.map((c) => c.name)).toEqual(['mqtt', 'webhook']);
    for (const channel of channels) {
      expect(channel).toBeInstanceOf(RateLimitedAlertChannel);
      expect((channel as RateLimitedAlertChannel).bucket.ratePerMinute).toBe(12);
    }
    expect((channels[0] as RateLimitedAlertChannel).inner).toBeInstanceOf(MqttAlertChannel);
    expect((channels[1] as RateLimitedAlertChannel).inner).toBeInstanceOf(WebhookAlertChannel);
  });

  it('allows no channel at all', () => {
    expect(create({ ALERT_CHANNELS: '' })).toEqual([]);
  });

  it('says what is wrong with the configuration', () => {
    // The same rules stop a service at start-up (libs/config, its own messages); a configuration built
    // by hand past them still meets the library's checks.
    const create = (env: Record<string, string>) => createAlertChannels({ ...loadConfig({}), ...env });
    expect(() => create({ ALERT_CHANNELS: 'mqtt,pager' })).toThrow('ALERT_CHANNELS: unknown alert channel "pager"; known: mqtt, webhook, sns');
    expect(() => create({ ALERT_CHANNELS: 'mqtt,mqtt' })).toThrow('ALERT_CHANNELS lists "mqtt" twice');
    expect(() => create({ ALERT_CHANNELS: 'webhook' })).toThrow('ALERT_CHANNELS includes webhook, so ALERT_WEBHOOK_URL and ALERT_WEBHOOK_SECRET must be set');
    expect(() => create({ ALERT_CHANNELS: 'webhook', ALERT_WEBHOOK_URL: 'http://127.0.0.1:9/hook' })).toThrow('so ALERT_WEBHOOK_SECRET must be set');
    expect(() => create({ ALERT_CHANNELS: 'webhook', ALERT_WEBHOOK_SECRET: 's3cret' })).toThrow('so ALERT_WEBHOOK_URL must be set');
    expect(parseAlertChannelNames('sns, webhook')).toEqual(['sns', 'webhook']);
  });

  it('loads the SNS channel only when listed, from SNS_TOPIC_ARN', () => {
    expect(() => create({ ALERT_CHANNELS: 'sns' })).toThrow(/SNS_TOPIC_ARN/);
    const [sns] = create({ ALERT_CHANNELS: 'sns', SNS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:alerts', SNS_ENDPOINT: 'http://127.0.0.1:9' });
    expect(sns.name).toBe('sns');
    expect((sns as RateLimitedAlertChannel).inner).toBeInstanceOf(SnsAlertChannel);
  });

  it('signs webhook deliveries with ALERT_WEBHOOK_SECRET', async () => {
    const receiver = await startReceiver();
    try {
      const [webhook] = create({ ALERT_CHANNELS: 'webhook', ALERT_WEBHOOK_URL: receiver.url, ALERT_WEBHOOK_SECRET: 'from-config' });
      await webhook.deliver(alertFixture('L07', 1));
      const [r] = receiver.requests;
      expect(verifyWebhookSignature('from-config', r.headers['x-meterstream-timestamp'] as string, r.body, r.headers['x-meterstream-signature'] as string)).toBe(true);
    } finally {
      await receiver.close();
    }
  });

  it('connects MQTT with the configured credentials and a client id of its own (the bridge keeps its session)', async () => {
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, service: { username: 'meter', password: 'secret' } });
    const bridge = await mqtt.connectAsync(broker.url, { clientId: 'meterstream-ingest-bridge', username: 'meter', password: 'secret', reconnectPeriod: 0 });
    let bridgeKicked = false;
    bridge.on('close', () => (bridgeKicked = true));
    try {
      const [channel] = create({ ALERT_CHANNELS: 'mqtt', MQTT_URL: broker.url, MQTT_USERNAME: 'meter', MQTT_PASSWORD: 'secret' });
      const inner = (channel as RateLimitedAlertChannel).inner as MqttAlertChannel;
      await waitFor(() => inner.connected, { what: 'the alert channel to connect' });
      await channel.deliver(alertFixture('L07', 1));
      expect(bridgeKicked).toBe(false);
    } finally {
      await bridge.endAsync(true);
      await broker.close();
    }
  });

  it('connects the MQTT channel over mutual TLS from the PEM variables (MQTT_CA_PEM, MQTT_CERT_PEM, MQTT_KEY_PEM)', async () => {
    const ca = issueCertificate({ commonName: 'test CA', isCa: true });
    const server = issueCertificate({ commonName: 'broker', issuer: ca, ip: ['127.0.0.1'] });
    const client = issueCertificate({ commonName: 'processor', issuer: ca });
    const { createBroker } = await import('aedes');
    const aedes = createBroker();
    // Requires a client certificate from the CA: the channel gets in only with the configured one.
    const broker = tls.createServer({ ca: ca.cert, cert: server.cert, key: server.key, requestCert: true, rejectUnauthorized: true }, aedes.handle as (socket: net.Socket) => void);
    await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
    const url = `mqtts://127.0.0.1:${(broker.address() as net.AddressInfo).port}`;
    const subscriber = await mqtt.connectAsync(url, { ca: ca.cert, cert: client.cert, key: client.key, clientId: 'alerts-tls-subscriber' });
    try {
      const received: string[] = [];
      subscriber.on('message', (topic) => received.push(topic));
      await subscriber.subscribeAsync('alerts/line/+', { qos: 1 });
      const [channel] = create({ ALERT_CHANNELS: 'mqtt', MQTT_URL: url, MQTT_CA_PEM: ca.cert, MQTT_CERT_PEM: client.cert, MQTT_KEY_PEM: client.key });
      await channel.deliver(alertFixture('L09', 1));
      await waitFor(() => received.length === 1, { what: 'the alert over mutual TLS' });
      expect(received).toEqual(['alerts/line/L09']);
    } finally {
      await subscriber.endAsync(true);
      for (const channel of opened.splice(0)) await channel.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
  });
});
