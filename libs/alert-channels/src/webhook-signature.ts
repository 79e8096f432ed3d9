import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How a webhook receiver knows an alert came from meterstream and was not altered or replayed.
 *
 * Every POST carries:
 *   X-Meterstream-Event-Id:  the envelope id (`${alertId}:${state}`, `${alertId}:escalated:${eventTime}`), the same on every redelivery;
 *                            receivers dedupe on it (delivery is at least once)
 *   X-Meterstream-Timestamp: when this attempt was signed, in epoch seconds
 *   X-Meterstream-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed with the
 *                            shared secret ALERT_WEBHOOK_SECRET>
 *
 * The receiver recomputes the HMAC over the timestamp header, a '.', and the raw request bytes
 * (before any JSON parsing), compares in constant time (verifyWebhookSignature), and should reject
 * timestamps older than a few minutes so a captured request cannot be replayed later. Signing the
 * timestamp with the body is what makes that check trustworthy.
 */
export const WEBHOOK_HEADERS = {
  eventId: 'x-meterstream-event-id',
  timestamp: 'x-meterstream-timestamp',
  signature: 'x-meterstream-signature',
} as const;

const SCHEME = 'sha256=';

/** The X-Meterstream-Signature value for a body signed at `timestamp` (epoch seconds, as sent). */
export function signWebhookPayload(secret: string, timestamp: string, body: string | Buffer): string {
  return SCHEME + hmac(secret, timestamp, body).toString('hex');
}

export interface VerifyWebhookOptions {
  /** Also reject a timestamp further than this from `nowSeconds` (replay protection). */
  toleranceSeconds?: number;
  /** Epoch seconds; default the wall clock. */
  nowSeconds?: number;
}

/**
 * True when `signature` (the X-Meterstream-Signature header) is the HMAC of `timestamp` and the
 * raw `body` under `secret`. Constant-time; never throws on malformed input.
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string,
  body: string | Buffer,
  signature: string | undefined,
  options: VerifyWebhookOptions = {},
): boolean {
  if (!secret || typeof signature !== 'string' || !signature.startsWith(SCHEME)) return false;
  const hex = signature.slice(SCHEME.length);
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  if (options.toleranceSeconds !== undefined) {
    const sent = Number(timestamp);
    const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
    if (!Number.isInteger(sent) || Math.abs(now - sent) > options.toleranceSeconds) return false;
  }
  return timingSafeEqual(Buffer.from(hex, 'hex'), hmac(secret, timestamp, body));
}

function hmac(secret: string, timestamp: string, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
}
