import { InternalErrorException, InvalidParameterException, NotFoundException, PublishCommand, ThrottledException } from '@aws-sdk/client-sns';
import { loadConfig } from '@meterstream/config';
import type { AlertEnvelope } from '@meterstream/contracts';
import { PermanentDeliveryError } from './alert-channel';
import { alertSubject, classifySnsError, deduplicationId, SnsAlertChannel, type SnsPublishApi } from './sns';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:meterstream-alerts';
const FIFO_TOPIC = 'arn:aws:sns:us-east-1:123456789012:meterstream-alerts.fifo';
const RAISED = Date.parse('2026-11-29T06:01:00.000Z');

function alert(overrides: Partial<AlertEnvelope['body']> = {}): AlertEnvelope {
  const body: AlertEnvelope['body'] = {
    alertId: `alert:L07:voltage-low:${RAISED}`,
    kind: 'voltage-low',
    state: 'raised',
    severity: 'warning',
    lineId: 'L07',
    message: 'L07: mean voltage 112.4 V below 114 V',
    evidence: { value: 112.4, threshold: 114, windowStart: RAISED - 60_000, windowEnd: RAISED },
    raisedAt: RAISED,
    ...overrides,
  };
  return { v: 1, type: 'alert', id: `${body.alertId}:${body.state}`, lineId: body.lineId, deviceId: body.deviceId ?? null, eventTime: RAISED, ingestTime: RAISED + 10_000, body };
}

class FakeSns implements SnsPublishApi {
  readonly published: PublishCommand['input'][] = [];
  destroyed = false;
  fail: Error | undefined;
  async send(command: PublishCommand) {
    if (this.fail) throw this.fail;
    this.published.push(command.input);
    return { MessageId: `msg-${this.published.length}` };
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const meta = (httpStatusCode?: number) => ({ $metadata: { httpStatusCode } });

/** SNS's HTTP answers (AWS query protocol: XML). */
const sns = {
  xml: (statusCode: number, body: string) => ({ statusCode, headers: { 'content-type': 'text/xml' }, body: Buffer.from(body) }),
  published: (id: string) =>
    sns.xml(200, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>${id}</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`),
  error: (statusCode: number, code: string, message: string) =>
    sns.xml(statusCode, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${statusCode >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`),
};

describe('SnsAlertChannel', () => {
  it('publishes the envelope as JSON with a subject and filterable attributes, and no FIFO ids on a standard topic', async () => {
    const client = new FakeSns();
    const channel = new SnsAlertChannel({ client, topicArn: TOPIC });
    const a = alert();
    await channel.deliver(a);
    expect(channel.name).toBe('sns');
    expect(client.published).toEqual([
      {
        TopicArn: TOPIC,
        Subject: '[WARNING] voltage-low raised: line L07',
        Message: JSON.stringify(a),
        MessageAttributes: {
          lineId: { DataType: 'String', StringValue: 'L07' },
          kind: { DataType: 'String', StringValue: 'voltage-low' },
          state: { DataType: 'String', StringValue: 'raised' },
          severity: { DataType: 'String', StringValue: 'warning' },
        },
      },
    ]);
  });

  it('orders a line and deduplicates redeliveries on a FIFO topic', () => {
    const channel = new SnsAlertChannel({ client: new FakeSns(), topicArn: FIFO_TOPIC });
    const input = channel.publishInput(alert({ state: 'cleared' }));
    expect(input.MessageGroupId).toBe('L07');
    expect(input.MessageDeduplicationId).toBe(`alert:L07:voltage-low:${RAISED}:cleared`);
  });

  it('derives a valid, stable deduplication id from an id SNS would refuse', () => {
    const long = `alert:${'L'.repeat(200)}:raised`;
    expect(deduplicationId(long)).toMatch(/^[0-9a-f]{64}$/);
    expect(deduplicationId(long)).toBe(deduplicationId(long));
    expect(deduplicationId('alert:L 07:raised')).not.toBe(deduplicationId('alert:L 08:raised'));
    expect(deduplicationId('alert:L 07:raised')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keeps the subject within what SNS accepts: printable ASCII, under 100 characters', () => {
    expect(alertSubject(alert({ deviceId: 'm-000123', severity: 'critical' }))).toBe('[CRITICAL] voltage-low raised: line L07, meter m-000123');
    expect(alertSubject(alert({ severity: 'critical', change: 'escalated', previousSeverity: 'warning' }))).toBe('[CRITICAL] voltage-low escalated: line L07');
    const odd = alertSubject(alert({ kind: `volt\u00e9-${'x'.repeat(150)}\n` }));
    expect(odd.length).toBeLessThan(100);
    expect(odd).toMatch(/^\[WARNING\] volt\?-x+\.\.\.$/);
  });

  it('makes throttling, 5xx and network failures retryable and what SNS refuses permanent', async () => {
    const client = new FakeSns();
    const channel = new SnsAlertChannel({ client, topicArn: TOPIC });
    const outcome = async (error: Error) => {
      client.fail = error;
      return channel.deliver(alert()).then(
        () => 'delivered',
        (e: Error) => (e instanceof PermanentDeliveryError ? 'permanent' : 'retryable'),
      );
    };
    expect(await outcome(new ThrottledException({ message: 'Rate exceeded', ...meta(429) }))).toBe('retryable');
    expect(await outcome(new InternalErrorException({ message: 'oops', ...meta(500) }))).toBe('retryable');
    expect(await outcome(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:15000'), { code: 'ECONNREFUSED' }))).toBe('retryable');
    expect(await outcome(new NotFoundException({ message: 'Topic does not exist', ...meta(404) }))).toBe('permanent');
    expect(await outcome(new InvalidParameterException({ message: 'Invalid parameter: Subject', ...meta(400) }))).toBe('permanent');
  });

  it('names the alert, the topic and the cause in a failure', () => {
    const error = classifySnsError(new NotFoundException({ message: 'Topic does not exist', ...meta(404) }), 'SNS Publish of a1 to t');
    expect(error.message).toBe('SNS Publish of a1 to t refused: NotFoundException: Topic does not exist (HTTP 404)');
    expect(error.cause).toBeInstanceOf(NotFoundException);
  });

  it('refuses a topic that is not an SNS ARN, and fromConfig without SNS_TOPIC_ARN', () => {
    expect(() => new SnsAlertChannel({ client: new FakeSns(), topicArn: 'meterstream-alerts' })).toThrow('SNS_TOPIC_ARN');
    expect(() => SnsAlertChannel.fromConfig(loadConfig({ ALERT_CHANNELS: 'sns' }))).toThrow('SNS_TOPIC_ARN must be set');
  });

  it('fromConfig builds a channel on SNS_TOPIC_ARN that owns its client', async () => {
    const channel = SnsAlertChannel.fromConfig(loadConfig({ SNS_TOPIC_ARN: FIFO_TOPIC, SNS_ENDPOINT: 'http://127.0.0.1:15000' }));
    expect(channel.publishInput(alert())).toMatchObject({ TopicArn: FIFO_TOPIC, MessageGroupId: 'L07' });
    await channel.close();
  });

  it('fromConfig lets the SDK retry a 5xx within one delivery, and sends a refused request once', async () => {
    // The SDK signs every request (credentials from its default chain); the fake does not check by whom.
    process.env.AWS_ACCESS_KEY_ID = 'unit';
    process.env.AWS_SECRET_ACCESS_KEY = 'unit';
    const answers = [sns.error(500, 'InternalError', 'Internal failure'), sns.published('m-1'), sns.error(400, 'InvalidParameter', 'Invalid parameter: Subject')];
    const requests: string[] = [];
    const requestHandler = {
      handle: async (request: { body?: unknown }) => {
        requests.push(String(request.body));
        return { response: answers.shift()! };
      },
      updateHttpClientConfig: () => undefined,
      httpHandlerConfigs: () => ({}),
    };
    const channel = SnsAlertChannel.fromConfig(loadConfig({ SNS_TOPIC_ARN: TOPIC }), { requestHandler });
    await channel.deliver(alert());
    expect(requests).toHaveLength(2);
    expect(requests[1]).toContain('Action=Publish');

    await expect(channel.deliver(alert())).rejects.toBeInstanceOf(PermanentDeliveryError);
    expect(requests).toHaveLength(3);
    await channel.close();
  });

  it('destroys only a client it owns', async () => {
    const owned = new FakeSns();
    await new SnsAlertChannel({ client: owned, topicArn: TOPIC, ownsClient: true }).close();
    const borrowed = new FakeSns();
    await new SnsAlertChannel({ client: borrowed, topicArn: TOPIC }).close();
    expect([owned.destroyed, borrowed.destroyed]).toEqual([true, false]);
  });
});
