import type { AlertDispatcher } from '@meterstream/alert-channels';
import { labelledCounterFrom } from '@meterstream/observability';
import { Gauge, type Registry } from 'prom-client';

/**
 * The alert channels' Prometheus metrics (they run in the processor, beside the dispatcher), by
 * channel: alerts delivered, failed attempts, retries, alerts given up on (alert-dead-letters),
 * and the age of the oldest alert the channel has not delivered yet (0 when caught up) — a pager
 * that is down shows here long before its retry budget runs out.
 */
export function registerAlertChannelMetrics(registry: Registry, dispatcher: AlertDispatcher, now: () => number = Date.now): void {
  const counter = (name: string, help: string, pick: (c: ReturnType<AlertDispatcher['counters']>[string]) => number) =>
    labelledCounterFrom(registry, name, help, ['channel'], () => Object.entries(dispatcher.counters()).map(([channel, c]): [Record<'channel', string>, number] => [{ channel }, pick(c)]));
  counter('meterstream_alert_deliveries_total', 'Alert events a channel accepted.', (c) => c.delivered);
  counter('meterstream_alert_delivery_failures_total', 'Failed delivery attempts (each is retried with backoff, or ends in a dead letter).', (c) => c.failed);
  counter('meterstream_alert_delivery_retries_total', 'Delivery attempts after the first.', (c) => c.retried);
  counter('meterstream_alert_dead_letters_total', 'Alert events given up on after the retry budget, appended to alert-dead-letters.', (c) => c.deadLettered);
  new Gauge({
    name: 'meterstream_alert_oldest_undelivered_age_seconds',
    help: 'Age of the oldest alert event not yet delivered to the channel (since it was appended to the alerts stream); 0 when caught up.',
    labelNames: ['channel'],
    registers: [registry],
    collect() {
      for (const [channel, c] of Object.entries(dispatcher.counters())) this.set({ channel }, c.oldestUndeliveredAt === null ? 0 : Math.max(0, now() - c.oldestUndeliveredAt) / 1000);
    },
  });
}
