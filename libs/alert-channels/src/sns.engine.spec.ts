import * as http from 'node:http';
import { CreateTopicCommand, ListTopicsCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { loadConfig } from '@meterstream/config';
import type { AlertEnvelope } from '@meterstream/contracts';
import { PermanentDeliveryError } from './alert-channel';
import { SnsAlertChannel } from './sns';

/**
 * The SNS alert channel against moto's server (bash scripts/engines/moto.sh), the local stand-in
 * for Amazon SNS. Delivery is checked end to end: the topic has an HTTP subscription to a server
 * in this test on 127.0.0.1, and moto POSTs each notification to it (synchronously, within
 * Publish, and without the SubscriptionConfirmation round trip real SNS makes first). moto's HTTP
 * notifications leave out MessageAttributes, so those are read from what moto recorded for the
 * topic (/moto-api/data.json).
 */

const MOTO_ENDPOINT = process.env.MOTO_ENDPOINT ?? 'http://127.0.0.1:15000';
const RUN = `${process.pid}-${Date.now()}`;
const RAISED = Date.parse('2026-11-29T06:01:00.000Z');

function alert(lineId: string, state: AlertEnvelope['body']['state'] = 'raised'): AlertEnvelope {
  const alertId = `alert:${lineId}:voltage-low:${RAISED}`;
  return {
    v: 1,
    type: 'alert',
    id: `${alertId}:${state}`,
    lineId,
    deviceId: null,
    eventTime: RAISED,
    ingestTime: RAISED + 10_000,
    body: {
      alertId,
      kind: 'voltage-low',
      state,
      severity: 'critical',
      lineId,
      message: `${lineId}: mean voltage 109.8 V below 114 V`,
      evidence: { value: 109.8, threshold: 114, windowStart: RAISED - 60_000, windowEnd: RAISED },
      raisedAt: RAISED,
    },
  };
}

/** A subscriber endpoint: keeps every POST body moto sends. */
async function startSubscriber() {
  const notifications: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      notifications.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/sns`,
    notifications,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What moto recorded as published to a topic: [messageId, message, subject, attributes, groupId]. */
async function motoSentNotifications(topicArn: string): Promise<[string, string, string | null, Record<string, unknown> | null, string | null][]> {
  const response = await fetch(`${MOTO_ENDPOINT}/moto-api/data.json`);
  const data = (await response.json()) as { sns: { Topic: { arn: string; sent_notifications: [string, string, string | null, Record<string, unknown> | null, string | null][] }[] } };
  return data.sns.Topic.find((t) => t.arn === topicArn)?.sent_notifications ?? [];
}

describe('SnsAlertChannel against moto', () => {
  let admin: SNSClient;

  beforeAll(async () => {
    // Dummy credentials: the SDK signs, moto does not check.
    process.env.AWS_ACCESS_KEY_ID = 'testing';
    process.env.AWS_SECRET_ACCESS_KEY = 'testing';
    delete process.env.AWS_SESSION_TOKEN;
    admin = new SNSClient({ region: 'us-east-1', endpoint: MOTO_ENDPOINT, requestHandler: new NodeHttpHandler({ connectionTimeout: 3000 }), maxAttempts: 1 });
    try {
      await admin.send(new ListTopicsCommand({}));
    } catch (err) {
      throw new Error(`moto is not reachable at ${MOTO_ENDPOINT} (${(err as Error).message}); start it with: bash scripts/engines/moto.sh (or set MOTO_ENDPOINT)`);
    }
  });

  afterAll(() => admin?.destroy());

  const channelFor = (topicArn: string, endpoint = MOTO_ENDPOINT) =>
    SnsAlertChannel.fromConfig(loadConfig({ ALERT_CHANNELS: 'sns', AWS_REGION: 'us-east-1', SNS_ENDPOINT: endpoint, SNS_TOPIC_ARN: topicArn }));

  async function topicWithSubscriber(name: string, attributes: Record<string, string> = {}) {
    const { TopicArn } = await admin.send(new CreateTopicCommand({ Name: name, Attributes: attributes }));
    const subscriber = await startSubscriber();
    const { SubscriptionArn } = await admin.send(new SubscribeCommand({ TopicArn, Protocol: 'http', Endpoint: subscriber.url, ReturnSubscriptionArn: true }));
    expect(SubscriptionArn).toContain(TopicArn!);
    return { topicArn: TopicArn!, subscriber };
  }

  it('delivers an alert to an HTTP subscriber, with subject, the envelope as message and filterable attributes', async () => {
    const { topicArn, subscriber } = await topicWithSubscriber(`meterstream-alerts-${RUN}`);
    const channel = channelFor(topicArn);
    try {
      const a = alert('L07');
      await channel.deliver(a);

      expect(subscriber.notifications).toHaveLength(1);
      const [notification] = subscriber.notifications;
      expect(notification).toMatchObject({ Type: 'Notification', TopicArn: topicArn, Subject: '[CRITICAL] voltage-low raised: line L07' });
      expect(JSON.parse(notification.Message as string)).toEqual(a);

      const [[messageId, , , attributes, groupId]] = await motoSentNotifications(topicArn);
      expect(messageId).toBe(notification.MessageId);
      expect(attributes).toEqual({
        lineId: { Type: 'String', Value: 'L07' },
        kind: { Type: 'String', Value: 'voltage-low' },
        state: { Type: 'String', Value: 'raised' },
        severity: { Type: 'String', Value: 'critical' },
      });
      // A standard topic: no group id (and moto refuses a deduplication id on one).
      expect(groupId).toBeNull();
    } finally {
      await channel.close();
      await subscriber.close();
    }
  });

  it('publishes to a FIFO topic with the line as group and the envelope id as deduplication id', async () => {
    // Without ContentBasedDeduplication, SNS (and moto) refuse a FIFO publish that lacks either id.
    const { topicArn, subscriber } = await topicWithSubscriber(`meterstream-alerts-${RUN}.fifo`, { FifoTopic: 'true' });
    const channel = channelFor(topicArn);
    try {
      await channel.deliver(alert('L08'));
      await channel.deliver(alert('L08', 'cleared'));
      expect(subscriber.notifications.map((n) => (JSON.parse(n.Message as string) as AlertEnvelope).id)).toEqual([
        `alert:L08:voltage-low:${RAISED}:raised`,
        `alert:L08:voltage-low:${RAISED}:cleared`,
      ]);
      expect((await motoSentNotifications(topicArn)).map((n) => n[4])).toEqual(['L08', 'L08']);
    } finally {
      await channel.close();
      await subscriber.close();
    }
  });

  it('fails permanently for a topic that does not exist', async () => {
    const channel = channelFor(`arn:aws:sns:us-east-1:123456789012:no-such-topic-${RUN}`);
    try {
      const failure = await channel.deliver(alert('L07')).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(PermanentDeliveryError);
      expect((failure as Error).message).toMatch(/refused: .*NotFound/);
    } finally {
      await channel.close();
    }
  });

  it('fails retryably when SNS cannot be reached', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const channel = channelFor('arn:aws:sns:us-east-1:123456789012:meterstream-alerts', `http://127.0.0.1:${port}`);
    try {
      const failure = await channel.deliver(alert('L07')).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(Error);
      expect(failure).not.toBeInstanceOf(PermanentDeliveryError);
      expect((failure as Error).message).toContain('ECONNREFUSED');
    } finally {
      await channel.close();
    }
  });
});
