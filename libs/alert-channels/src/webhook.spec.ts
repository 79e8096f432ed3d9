import { PermanentDeliveryError } from './alert-channel';
import { alertFixture, startReceiver, VirtualClock } from './testing/alert-fixtures';
import { RetryableDeliveryError, WebhookAlertChannel } from './webhook';
import { signWebhookPayload, verifyWebhookSignature } from './webhook-signature';

const SECRET = 'test-secret-not-for-production';

describe('webhook signature', () => {
  const body = JSON.stringify(alertFixture('L07', 1));
  const timestamp = '1795932000';
  const signature = signWebhookPayload(SECRET, timestamp, body);

  it('verifies its own signature, over a string or the raw bytes', () => {
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature)).toBe(true);
    expect(verifyWebhookSignature(SECRET, timestamp, Buffer.from(body), signature)).toBe(true);
  });

  it('fails for a tampered body, another timestamp, another secret or a malformed header', () => {
    expect(verifyWebhookSignature(SECRET, timestamp, body.replace('112.4', '118.4'), signature)).toBe(false);
    expect(verifyWebhookSignature(SECRET, '1795932001', body, signature)).toBe(false);
    expect(verifyWebhookSignature('another-secret', timestamp, body, signature)).toBe(false);
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature.slice(0, -2))).toBe(false);
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature.replace('sha256=', 'sha1='))).toBe(false);
    expect(verifyWebhookSignature(SECRET, timestamp, body, undefined)).toBe(false);
    expect(verifyWebhookSignature('', timestamp, body, signature)).toBe(false);
  });

  it('rejects a stale timestamp when given a tolerance (replay protection)', () => {
    const now = Number(timestamp);
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature, { toleranceSeconds: 300, nowSeconds: now + 299 })).toBe(true);
    expect(verifyWebhookSignature(SECRET, timestamp, body, signature, { toleranceSeconds: 300, nowSeconds: now + 301 })).toBe(false);
  });
});

describe('WebhookAlertChannel', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let status: number | 'hang';
  const clock = new VirtualClock();

  beforeAll(async () => {
    receiver = await startReceiver(() => status);
  });
  afterAll(() => receiver.close());
  beforeEach(() => {
    status = 200;
    receiver.requests.length = 0;
  });

  const channel = (timeoutMs = 5000) => new WebhookAlertChannel({ url: receiver.url, secret: SECRET, timeoutMs, clock });

  it('POSTs the envelope JSON, signed, with the event id and timestamp headers', async () => {
    const alert = alertFixture('L07', 1);
    await channel().deliver(alert);
    const [request] = receiver.requests;
    expect(JSON.parse(request.body)).toEqual(alert);
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['x-meterstream-event-id']).toBe(alert.id);
    const timestamp = request.headers['x-meterstream-timestamp'] as string;
    expect(timestamp).toBe(String(Math.floor(clock.now() / 1000)));
    expect(verifyWebhookSignature(SECRET, timestamp, request.body, request.headers['x-meterstream-signature'] as string)).toBe(true);
  });

  it('counts any 2xx as delivered', async () => {
    for (const s of [200, 201, 202, 204]) {
      status = s;
      await expect(channel().deliver(alertFixture('L07', s))).resolves.toBeUndefined();
    }
  });

  it('classifies 408, 429 and 5xx as retryable, other 4xx and redirects as permanent', async () => {
    const outcome = async (s: number) => {
      status = s;
      const err = await channel()
        .deliver(alertFixture('L07', 2))
        .then(() => undefined, (e: Error) => e);
      return err instanceof PermanentDeliveryError ? 'permanent' : err instanceof RetryableDeliveryError ? 'retryable' : String(err);
    };
    for (const s of [408, 429, 500, 502, 503, 504]) expect([s, await outcome(s)]).toEqual([s, 'retryable']);
    for (const s of [400, 401, 403, 404, 410, 413, 422, 302, 307]) expect([s, await outcome(s)]).toEqual([s, 'permanent']);
    // A redirect is reported but not followed: the signed alert went to the configured URL only.
    expect(receiver.requests.every((r) => r.headers['x-meterstream-event-id'] === alertFixture('L07', 2).id)).toBe(true);
  });

  it('reports the status and the start of the answer, without the URL query (it may hold a token)', async () => {
    status = 422;
    const err = await channel().deliver(alertFixture('L07', 3)).catch((e: Error) => e);
    expect((err as Error).message).toBe(`POST http://127.0.0.1:${receiver.port}/hooks/alerts answered 422: status 422`);
  });

  it('treats a request with no answer within the timeout as retryable', async () => {
    status = 'hang';
    const err = await channel(100).deliver(alertFixture('L07', 4)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(RetryableDeliveryError);
    expect((err as Error).message).toContain('no response within 100 ms');
  });

  it('treats a refused connection as retryable and says why', async () => {
    const closed = await startReceiver();
    await closed.close();
    const err = await new WebhookAlertChannel({ url: closed.url, secret: SECRET }).deliver(alertFixture('L07', 5)).catch((e: Error) => e);
    expect(err).toBeInstanceOf(RetryableDeliveryError);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  it('refuses to start without a secret or with a URL that is not http(s)', () => {
    expect(() => new WebhookAlertChannel({ url: receiver.url, secret: undefined })).toThrow(/ALERT_WEBHOOK_SECRET/);
    expect(() => new WebhookAlertChannel({ url: receiver.url, secret: '' })).toThrow(/ALERT_WEBHOOK_SECRET/);
    expect(() => new WebhookAlertChannel({ url: 'ftp://example.test/x', secret: SECRET })).toThrow(/http\(s\) URL/);
    expect(() => new WebhookAlertChannel({ url: 'not a url', secret: SECRET })).toThrow(/ALERT_WEBHOOK_URL/);
  });
});
