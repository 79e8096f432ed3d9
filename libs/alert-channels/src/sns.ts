import { createHash } from 'node:crypto';
import { PublishCommand, SNSClient, type MessageAttributeValue, type SNSClientConfig } from '@aws-sdk/client-sns';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { SnsConfig } from '@meterstream/config';
import type { AlertEnvelope } from '@meterstream/contracts';
import { PermanentDeliveryError, type AlertChannel } from './alert-channel';

/** The part of SNSClient the channel uses (a test can hand in a fake). */
export interface SnsPublishApi {
  send(command: PublishCommand): Promise<{ MessageId?: string }>;
  destroy(): void;
}

export interface SnsAlertChannelOptions {
  client: SnsPublishApi;
  /** Config SNS_TOPIC_ARN. A FIFO topic (name ending in .fifo) gets group and deduplication ids. */
  topicArn: string;
  /** Default 'sns'; a second SNS channel needs its own name (its own stream position). */
  name?: string;
  /** `close()` destroys the client (set by `fromConfig`, which creates it). */
  ownsClient?: boolean;
}

/** SNS refuses a subject of 100 characters or more, or with anything but printable ASCII. */
const MAX_SUBJECT_CHARS = 99;
/** MessageDeduplicationId: 1 to 128 printable ASCII characters, no spaces. */
const DEDUPLICATION_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Publishes each alert event to an SNS topic: the envelope as JSON in the message (subscribers
 * recognise a redelivery by its id), a one-line subject for e-mail subscribers, and message
 * attributes lineId, kind, state and severity for subscription filter policies. On a FIFO topic
 * alerts of one line keep their order (group id = lineId) and a redelivery within SNS's
 * five-minute window is dropped by SNS (deduplication id = envelope id).
 *
 * Errors: throttling, 5xx and network failures are first retried by the SDK client (its standard
 * retries: a few attempts within seconds); if they persist, deliver rejects with a plain Error and
 * the dispatcher retries the delivery. What SNS refuses outright (validation, unknown topic,
 * access denied) rejects with PermanentDeliveryError, since the same request would be refused again.
 */
export class SnsAlertChannel implements AlertChannel {
  readonly name: string;
  private readonly fifo: boolean;

  constructor(private readonly options: SnsAlertChannelOptions) {
    if (!/^arn:[^:]+:sns:[^:]*:[^:]*:.+$/.test(options.topicArn)) {
      throw new Error(`the SNS alert channel needs a topic ARN in SNS_TOPIC_ARN (arn:aws:sns:<region>:<account>:<topic>), got "${options.topicArn}"`);
    }
    this.name = options.name ?? 'sns';
    this.fifo = options.topicArn.endsWith('.fifo');
  }

  /**
   * A channel for SNS_TOPIC_ARN in AWS_REGION. SNS_ENDPOINT is for local stand-ins (moto) only,
   * which need HTTP/1.1 (NodeHttpHandler). Credentials come from the SDK's default chain.
   * `requestHandler` replaces the HTTP layer under the client (tests answer as SNS would).
   */
  static fromConfig(config: SnsConfig, { requestHandler }: Pick<SNSClientConfig, 'requestHandler'> = {}): SnsAlertChannel {
    if (!config.SNS_TOPIC_ARN) throw new Error('ALERT_CHANNELS includes sns, so SNS_TOPIC_ARN must be set');
    const endpoint = config.SNS_ENDPOINT;
    const client = new SNSClient({
      region: config.AWS_REGION,
      // The SDK's standard retries (3 attempts, jittered backoff, a retry quota that stops retrying
      // into an outage) absorb a blip within one delivery; the dispatcher's backoff, which spans
      // minutes and every channel, takes over when that is not enough.
      retryMode: 'standard',
      maxAttempts: 3,
      ...(endpoint === undefined ? {} : { endpoint, requestHandler: new NodeHttpHandler() }),
      ...(requestHandler === undefined ? {} : { requestHandler }),
    });
    return new SnsAlertChannel({ client, topicArn: config.SNS_TOPIC_ARN, ownsClient: true });
  }

  async deliver(alert: AlertEnvelope): Promise<void> {
    try {
      await this.options.client.send(new PublishCommand(this.publishInput(alert)));
    } catch (err) {
      throw classifySnsError(err, `SNS Publish of ${alert.id} to ${this.options.topicArn}`);
    }
  }

  async close(): Promise<void> {
    if (this.options.ownsClient) this.options.client.destroy();
  }

  /** The Publish request for one alert event (exposed for tests). */
  publishInput(alert: AlertEnvelope): PublishCommand['input'] {
    const { kind, state, severity, lineId } = alert.body;
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries({ lineId, kind, state, severity })) {
      // SNS refuses an empty attribute value; leaving the attribute out only weakens filtering.
      if (value) attributes[name] = { DataType: 'String', StringValue: value };
    }
    return {
      TopicArn: this.options.topicArn,
      Subject: alertSubject(alert),
      Message: JSON.stringify(alert),
      MessageAttributes: attributes,
      ...(this.fifo ? { MessageGroupId: lineId, MessageDeduplicationId: deduplicationId(alert.id) } : {}),
    };
  }
}

/**
 * "[WARNING] voltage-low raised: line L07" (+ meter; "escalated" for an escalation), as SNS
 * accepts it: printable ASCII, < 100 chars.
 */
export function alertSubject(alert: AlertEnvelope): string {
  const { severity, kind, state, change, lineId, deviceId } = alert.body;
  const subject = `[${severity.toUpperCase()}] ${kind} ${change ?? state}: line ${lineId}${deviceId ? `, meter ${deviceId}` : ''}`;
  const ascii = subject.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length <= MAX_SUBJECT_CHARS ? ascii : `${ascii.slice(0, MAX_SUBJECT_CHARS - 3)}...`;
}

/** The envelope id when SNS accepts it as is, else its SHA-256 (same id, same deduplication id). */
export function deduplicationId(envelopeId: string): string {
  return DEDUPLICATION_ID.test(envelopeId) ? envelopeId : createHash('sha256').update(envelopeId).digest('hex');
}

const RETRYABLE_NAMES = new Set([
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'KMSThrottlingException',
  'InternalErrorException',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
]);
const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH']);

/**
 * Wraps a Publish failure for the dispatcher: retryable (plain Error) for throttling, 5xx,
 * network failures and anything without an HTTP status (e.g. credentials not loaded yet); a
 * PermanentDeliveryError for every other 4xx (InvalidParameter, NotFound, AuthorizationError...).
 */
export function classifySnsError(err: unknown, what: string): Error {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const detail = `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message ?? String(err)}${status === undefined ? '' : ` (HTTP ${status})`}`;
  const retryable =
    (e.name !== undefined && RETRYABLE_NAMES.has(e.name)) ||
    (e.code !== undefined && RETRYABLE_NETWORK_CODES.has(e.code)) ||
    status === undefined ||
    status === 429 ||
    status >= 500;
  return retryable ? new Error(`${what} failed: ${detail}`, { cause: err }) : new PermanentDeliveryError(`${what} refused: ${detail}`, { cause: err });
}
