import { mqttTlsOptions, type AlertChannelsConfig, type SnsConfig } from '@meterstream/config';
import type { AlertChannel } from './alert-channel';
import type { Clock } from './clock';
import { MqttAlertChannel } from './mqtt';
import { RateLimitedAlertChannel } from './rate-limited-channel';
import { WebhookAlertChannel } from './webhook';

export const ALERT_CHANNEL_NAMES = ['mqtt', 'webhook', 'sns'] as const;
export type AlertChannelName = (typeof ALERT_CHANNEL_NAMES)[number];

export interface CreateAlertChannelsOptions {
  /** Tokens of each channel's rate limit held at once; default ten seconds' worth of the rate. */
  burst?: number;
  /** Clock of the rate limits and webhook timestamps (tests). */
  clock?: Clock;
  /** Default `${MQTT_CLIENT_ID}-alerts`, so the channel never takes over the ingest bridge's session. */
  mqttClientId?: string;
  /** Default 10 s. */
  webhookTimeoutMs?: number;
}

/** ALERT_CHANNELS ("mqtt,webhook") as channel names: trimmed, lower-cased, each known and listed once. */
export function parseAlertChannelNames(list: string): AlertChannelName[] {
  const names = list
    .split(',')
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== '');
  const seen = new Set<string>();
  for (const name of names) {
    if (!(ALERT_CHANNEL_NAMES as readonly string[]).includes(name)) {
      throw new Error(`ALERT_CHANNELS: unknown alert channel "${name}"; known: ${ALERT_CHANNEL_NAMES.join(', ')}`);
    }
    if (seen.has(name)) throw new Error(`ALERT_CHANNELS lists "${name}" twice`);
    seen.add(name);
  }
  return names as AlertChannelName[];
}

/**
 * The channels named in ALERT_CHANNELS, each rate limited to ALERT_CHANNEL_RATE_PER_MINUTE. The
 * whole configuration is checked before any channel is built, so a mistake leaves no connection
 * open. An empty list is valid: the read model gets the alerts regardless.
 */
export function createAlertChannels(config: AlertChannelsConfig, options: CreateAlertChannelsOptions = {}): AlertChannel[] {
  const names = parseAlertChannelNames(config.ALERT_CHANNELS);
  if (names.includes('webhook')) {
    const missing = [!config.ALERT_WEBHOOK_URL && 'ALERT_WEBHOOK_URL', !config.ALERT_WEBHOOK_SECRET && 'ALERT_WEBHOOK_SECRET'].filter(Boolean);
    if (missing.length > 0) throw new Error(`ALERT_CHANNELS includes webhook, so ${missing.join(' and ')} must be set`);
  }
  const channels: AlertChannel[] = [];
  try {
    for (const name of names) {
      channels.push(new RateLimitedAlertChannel(build(name, config, options), { ratePerMinute: config.ALERT_CHANNEL_RATE_PER_MINUTE, burst: options.burst, clock: options.clock }));
    }
  } catch (err) {
    for (const channel of channels) void channel.close().catch(() => undefined);
    throw err;
  }
  return channels;
}

function build(name: AlertChannelName, config: AlertChannelsConfig, options: CreateAlertChannelsOptions): AlertChannel {
  switch (name) {
    case 'mqtt':
      return new MqttAlertChannel({
        url: config.MQTT_URL ?? `mqtt://${config.MQTT_HOST}:${config.MQTT_PORT}`,
        clientId: options.mqttClientId ?? `${config.MQTT_CLIENT_ID}-alerts`,
        username: config.MQTT_USERNAME,
        password: config.MQTT_PASSWORD,
        tls: mqttTlsOptions(config),
      });
    case 'webhook':
      return new WebhookAlertChannel({ url: config.ALERT_WEBHOOK_URL!, secret: config.ALERT_WEBHOOK_SECRET, timeoutMs: options.webhookTimeoutMs, clock: options.clock });
    case 'sns':
      return loadSnsChannel(config);
  }
}

/**
 * Loaded only when configured: the SNS adapter pulls in the AWS SDK, which a deployment without
 * SNS should not pay for (and the adapter may not be part of every build).
 */
function loadSnsChannel(config: SnsConfig): AlertChannel {
  let sns: { SnsAlertChannel: { fromConfig(config: SnsConfig): AlertChannel } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sns = require('./sns');
  } catch (err) {
    throw new Error(`ALERT_CHANNELS includes sns, but the SNS alert channel cannot be loaded: ${(err as Error).message}`);
  }
  return sns.SnsAlertChannel.fromConfig(config);
}
