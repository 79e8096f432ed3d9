import { ENVELOPE_VERSION, type AlertBody, type AlertEnvelope, type AlertSeverity } from '@meterstream/contracts';

/**
 * The envelope of an alert state change. Its id is `${alertId}:${state}` for the raise and the
 * clear, and `${alertId}:${change}:${eventTime}` for a change in between (an escalation), so each
 * transition of one alert is one idempotent record downstream. Times come from the window that
 * caused it.
 */
export function alertEnvelope(body: AlertBody, eventTime: number, ingestTime: number): AlertEnvelope {
  return {
    v: ENVELOPE_VERSION,
    type: 'alert',
    id: body.change === undefined ? `${body.alertId}:${body.state}` : `${body.alertId}:${body.change}:${eventTime}`,
    lineId: body.lineId,
    deviceId: body.deviceId ?? null,
    eventTime,
    ingestTime,
    body,
  };
}

/** Volts for a message: one decimal, independent of locale. */
export function formatVolts(value: number): string {
  return `${Number.isInteger(value) ? String(value) : value.toFixed(1)} V`;
}

const SEVERITY_RANK: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 };

/** True when `next` is a more severe level than `current` (warning → critical). */
export function isMoreSevere(next: AlertSeverity, current: AlertSeverity): boolean {
  return SEVERITY_RANK[next] > SEVERITY_RANK[current];
}
