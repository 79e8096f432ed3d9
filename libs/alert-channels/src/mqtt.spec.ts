import { decodeEnvelope, type AlertEnvelope } from '@meterstream/contracts';
import { startEmbeddedBroker, type EmbeddedBroker } from '@meterstream/mqtt';
import { waitFor } from '@meterstream/test-harness';
import mqtt, { type MqttClient } from 'mqtt';
import { PermanentDeliveryError } from './alert-channel';
import { ALERTS_TOPIC_FILTER, MqttAlertChannel } from './mqtt';
import { alertFixture } from './testing/alert-fixtures';

describe('MqttAlertChannel', () => {
  let broker: EmbeddedBroker;
  let subscriber: MqttClient;
  const received: { topic: string; qos: number; alert: AlertEnvelope }[] = [];
  const channels: MqttAlertChannel[] = [];
  const open = (publishTimeoutMs = 5000) => {
    const channel = new MqttAlertChannel({ url: broker.url, clientId: `alerts-test-${channels.length}`, publishTimeoutMs, reconnectPeriodMs: 50 });
    channels.push(channel);
    return channel;
  };

  beforeEach(async () => {
    broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
    received.length = 0;
    subscriber = await mqtt.connectAsync(broker.url, { clientId: 'alerts-subscriber', reconnectPeriod: 50 });
    subscriber.on('message', (topic, payload, packet) => received.push({ topic, qos: packet.qos, alert: decodeEnvelope<AlertEnvelope>(payload) }));
    await subscriber.subscribeAsync('alerts/line/L07', { qos: 1 });
  });

  afterEach(async () => {
    for (const channel of channels.splice(0)) await channel.close();
    await subscriber.endAsync(true);
    await broker.close();
  });

  it('publishes the alert JSON at QoS 1 on alerts/line/{lineId}, resolving once the broker acknowledged it', async () => {
    const alert = alertFixture('L07', 1);
    await open().deliver(alert);
    await waitFor(() => received.length === 1, { what: 'the subscriber to receive the alert' });
    expect(received).toEqual([{ topic: 'alerts/line/L07', qos: 1, alert }]);
  });

  it('publishes each line on its own topic (other lines do not reach an L07 subscriber)', async () => {
    const channel = open();
    await channel.deliver(alertFixture('L08', 1));
    await channel.deliver(alertFixture('L07', 2));
    await waitFor(() => received.length === 1);
    expect(received.map((r) => r.alert.lineId)).toEqual(['L07']);
    expect(ALERTS_TOPIC_FILTER).toBe('alerts/line/+');
  });

  it('fails retryably while the broker is away and reconnects by itself when it is back', async () => {
    const channel = open(300);
    await channel.deliver(alertFixture('L07', 1));
    const port = broker.port;
    await broker.close();
    await waitFor(() => !channel.connected, { what: 'the channel to notice the broker is gone' });
    const err = await channel.deliver(alertFixture('L07', 2)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(PermanentDeliveryError);
    expect((err as Error).message).toContain('not connected');

    broker = await startEmbeddedBroker({ host: '127.0.0.1', port });
    await waitFor(() => subscriber.connected, { what: 'the subscriber to reconnect' });
    await subscriber.subscribeAsync('alerts/line/L07', { qos: 1 });
    await waitFor(() => channel.connected, { what: 'the channel to reconnect' });
    await channel.deliver(alertFixture('L07', 3));
    await waitFor(() => received.some((r) => r.alert.id === alertFixture('L07', 3).id), { what: 'the alert after reconnection' });
  });

  it('refuses a lineId that is not one topic level, permanently', async () => {
    await expect(open().deliver({ ...alertFixture('L07', 1), lineId: 'L07/#' })).rejects.toBeInstanceOf(PermanentDeliveryError);
  });
});
