import { alertTopic, type AlertEnvelope } from '@meterstream/contracts';
import mqtt, { type MqttClient } from 'mqtt';
import { PermanentDeliveryError, type AlertChannel } from './alert-channel';

/** Subscribe here for the alerts of every line (the channel publishes on alerts/line/{lineId}). */
export const ALERTS_TOPIC_FILTER = 'alerts/line/+';

/** The topic of a line's alerts; a lineId that is not a single topic level cannot be published. */
export function alertTopicForLine(lineId: string): string {
  if (lineId === '' || /[/+#]/.test(lineId) || lineId.includes('\u0000')) throw new PermanentDeliveryError(`lineId ${JSON.stringify(lineId)} cannot be an MQTT topic level`);
  return alertTopic(lineId);
}

export interface MqttAlertChannelOptions {
  /** mqtt://host:port or mqtts://host:port. */
  url: string;
  /**
   * Must differ from every other client of the broker (a broker disconnects the older of two
   * clients with one id): never the ingest bridge's id.
   */
  clientId: string;
  username?: string;
  password?: string;
  /** PEM text for mqtts: the broker's CA; the client certificate and key for mutual TLS (MQTT_CA_*, MQTT_CERT_*, MQTT_KEY_*). */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Default 'mqtt'. */
  name?: string;
  /** A delivery that is not acknowledged (PUBACK) within this long fails, retryably. Default 10 s. */
  publishTimeoutMs?: number;
  /** Wait between reconnection attempts. Default 1 s. */
  reconnectPeriodMs?: number;
}

const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;

/**
 * Publishes each alert event as its envelope JSON on `alerts/line/{lineId}` at QoS 1; deliver()
 * resolves on the broker's PUBACK. The connection is made at construction and re-made by mqtt.js
 * whenever it drops; while the broker is away a delivery waits up to publishTimeoutMs for it and
 * then fails retryably, so the dispatcher backs off instead of piling up publishes.
 *
 * Not retained: an alert is an event, and a subscriber that wants the current alerts of a line asks
 * the query API. A publish that timed out may still reach the broker later (mqtt.js resends it on
 * reconnect), which is one more reason receivers dedupe by envelope id.
 */
export class MqttAlertChannel implements AlertChannel {
  readonly name: string;
  private readonly client: MqttClient;
  private readonly publishTimeoutMs: number;
  private lastError: Error | undefined;

  constructor(options: MqttAlertChannelOptions) {
    this.name = options.name ?? 'mqtt';
    this.publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.client = mqtt.connect(options.url, {
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      ...options.tls,
      clean: true,
      reconnectPeriod: options.reconnectPeriodMs ?? 1000,
      connectTimeout: this.publishTimeoutMs,
      // A refused CONNECT (bad credentials, broker restarting) is retried like a lost connection.
      reconnectOnConnackError: true,
    });
    // Without a listener an 'error' event would crash the process; the error is reported by the
    // delivery that cannot go out instead.
    this.client.on('error', (err) => {
      this.lastError = err;
    });
    this.client.on('connect', () => {
      this.lastError = undefined;
    });
  }

  /** True while connected to the broker. */
  get connected(): boolean {
    return this.client.connected;
  }

  async deliver(alert: AlertEnvelope): Promise<void> {
    const topic = alertTopicForLine(alert.lineId);
    const payload = JSON.stringify(alert);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const state = this.client.connected ? 'no PUBACK' : `not connected${this.lastError ? ` (${this.lastError.message})` : ''}`;
        reject(new Error(`MQTT publish to ${topic}: ${state} within ${this.publishTimeoutMs} ms`));
      }, this.publishTimeoutMs);
    });
    const cancel = new AbortController();
    try {
      await Promise.race([this.publish(topic, payload, cancel.signal), timedOut]);
    } finally {
      clearTimeout(timer);
      cancel.abort();
    }
  }

  private async publish(topic: string, payload: string, cancelled: AbortSignal): Promise<void> {
    // Publishing while offline would only queue inside mqtt.js; wait for the connection instead,
    // so the timeout covers "broker away" and the dispatcher's backoff takes over.
    if (!this.client.connected) await this.connectedOrCancelled(cancelled);
    if (cancelled.aborted) return;
    await this.client.publishAsync(topic, payload, { qos: 1 });
  }

  private connectedOrCancelled(cancelled: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.client.off('connect', done);
        cancelled.removeEventListener('abort', done);
        resolve();
      };
      this.client.on('connect', done);
      cancelled.addEventListener('abort', done);
    });
  }

  async close(): Promise<void> {
    // Forced: the dispatcher is stopped by now, so nothing in flight is worth waiting for, and an
    // unforced end would wait forever on a broker that is gone.
    await this.client.endAsync(true);
  }
}
