import type { AlertEnvelope } from '@meterstream/contracts';
import { PermanentDeliveryError, type AlertChannel } from './alert-channel';
import { systemClock, type Clock } from './clock';
import { signWebhookPayload, WEBHOOK_HEADERS } from './webhook-signature';

export interface WebhookAlertChannelOptions {
  /** http(s) URL the alerts are POSTed to (config ALERT_WEBHOOK_URL). */
  url: string;
  /** Shared HMAC secret (config ALERT_WEBHOOK_SECRET). Required: unsigned alerts are not sent. */
  secret: string | undefined;
  /** A request with no complete response within this long fails (retryable). Default 10 s. */
  timeoutMs?: number;
  /** Default 'webhook'; a second webhook channel needs its own name (its own stream position). */
  name?: string;
  clock?: Pick<Clock, 'now'>;
}

/** A failed webhook delivery that a retry may fix: a network error, a timeout, 408, 429 or 5xx. */
export class RetryableDeliveryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** 408 Request Timeout, 429 Too Many Requests and every 5xx are worth retrying; other non-2xx are not. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_ERROR_BODY_CHARS = 200;

/**
 * Delivers each alert as an HTTP POST of the envelope JSON, signed (see webhook-signature.ts).
 * 2xx means delivered. Redirects are not followed: re-POSTing a signed alert to wherever a
 * response points is a leak, and a moved endpoint is a configuration fix (permanent error).
 */
export class WebhookAlertChannel implements AlertChannel {
  readonly name: string;
  private readonly url: URL;
  private readonly secret: string;
  private readonly timeoutMs: number;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly closing = new AbortController();

  constructor(options: WebhookAlertChannelOptions) {
    if (!options.secret) {
      throw new Error('the webhook alert channel needs a signing secret: set ALERT_WEBHOOK_SECRET (receivers verify X-Meterstream-Signature with it)');
    }
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new Error(`the webhook alert channel needs an http(s) URL in ALERT_WEBHOOK_URL, got "${options.url}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`the webhook alert channel needs an http(s) URL in ALERT_WEBHOOK_URL, got ${url.protocol} URL`);
    }
    this.url = url;
    this.secret = options.secret;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.name = options.name ?? 'webhook';
    this.clock = options.clock ?? systemClock;
  }

  /** The URL without credentials or query (which may hold tokens): safe for logs and dead letters. */
  private get where(): string {
    return `${this.url.origin}${this.url.pathname}`;
  }

  async deliver(alert: AlertEnvelope): Promise<void> {
    const body = JSON.stringify(alert);
    const timestamp = String(Math.floor(this.clock.now() / 1000));
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'meterstream-alerts/1',
          [WEBHOOK_HEADERS.eventId]: alert.id,
          [WEBHOOK_HEADERS.timestamp]: timestamp,
          [WEBHOOK_HEADERS.signature]: signWebhookPayload(this.secret, timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.any([timeout, this.closing.signal]),
      });
      status = response.status;
      // Read the body to the end so the connection is reused; keep the start for the error message.
      text = (await response.text()).slice(0, MAX_ERROR_BODY_CHARS);
    } catch (err) {
      if (timeout.aborted) throw new RetryableDeliveryError(`POST ${this.where}: no response within ${this.timeoutMs} ms`);
      if (this.closing.signal.aborted) throw new RetryableDeliveryError(`POST ${this.where}: channel closed`);
      throw new RetryableDeliveryError(`POST ${this.where} failed: ${describeFetchError(err)}`);
    }
    if (status >= 200 && status < 300) return;
    const message = `POST ${this.where} answered ${status}${text ? `: ${text}` : ''}`;
    if (isRetryableStatus(status)) throw new RetryableDeliveryError(message, status);
    if (status >= 300 && status < 400) throw new PermanentDeliveryError(`${message} (a redirect: set ALERT_WEBHOOK_URL to the final URL)`);
    throw new PermanentDeliveryError(message);
  }

  async close(): Promise<void> {
    this.closing.abort();
  }
}

/** fetch reports "fetch failed" and hides the useful part (ECONNREFUSED, ENOTFOUND) in `cause`. */
function describeFetchError(err: unknown): string {
  const error = err as Error & { cause?: { code?: string; message?: string } };
  const cause = error.cause;
  if (cause && (cause.code || cause.message)) return [cause.code, cause.message].filter(Boolean).join(' ');
  return error.message ?? String(err);
}
