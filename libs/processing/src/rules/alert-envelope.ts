import { ENVELOPE_VERSION, type AlertBody, type AlertEnvelope } from '@meterstream/contracts';

/**
 * The envelope of an alert state change. Its id is `${alertId}:${state}`, so each transition of
 * one alert is one idempotent record downstream. Times come from the window that caused it.
 */
export function alertEnvelope(body: AlertBody, eventTime: number, ingestTime: number): AlertEnvelope {
  return {
    v: ENVELOPE_VERSION,
    type: 'alert',
    id: `${body.alertId}:${body.state}`,
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
