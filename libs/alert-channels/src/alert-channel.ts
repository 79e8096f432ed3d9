import type { AlertEnvelope } from '@meterstream/contracts';

/**
 * The alert-channel port: one way of telling people about an alert event (raised, escalated,
 * cleared). Channels are projections of the `alerts` stream: a dispatcher reads the stream with
 * its own position per channel, so a slow or failing channel never blocks processing and never
 * holds up the other channels. Adapters: `mqtt.ts`, `webhook.ts`, `sns.ts`.
 *
 * Delivery is at least once: a receiver recognises a redelivery by the envelope id.
 */
export interface AlertChannel {
  /** Stable name ('mqtt', 'webhook', 'sns'); keys the channel's position on the alerts stream. */
  readonly name: string;
  /**
   * Delivers one alert event. Resolves once the receiver accepted it. Rejects with
   * PermanentDeliveryError when retrying cannot help (the event is dead-lettered at once),
   * with any other error when a retry might succeed.
   */
  deliver(alert: AlertEnvelope): Promise<void>;
  close(): Promise<void>;
}

/** A delivery failure that retrying cannot fix (e.g. HTTP 400 from a webhook receiver). */
export class PermanentDeliveryError extends Error {}
