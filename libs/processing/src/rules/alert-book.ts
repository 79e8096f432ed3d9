import type { AlertEnvelope, AlertSeverity } from '@meterstream/contracts';
import { alertEnvelope, isMoreSevere } from './alert-envelope';

/** What an alert is about: a whole line, or one meter on it. */
export interface AlertSubject {
  lineId: string;
  deviceId?: string;
}

/** An alert raised and not yet cleared. */
export interface OpenAlert {
  alertId: string;
  kind: string;
  severity: AlertSeverity;
  lineId: string;
  deviceId?: string;
  raisedAt: number;
}

export interface AlertEvidence {
  value: number;
  threshold: number;
  windowStart: number;
  windowEnd: number;
  [key: string]: unknown;
}

/**
 * The alert lifecycle shared by the rules: at most one open alert per (subject, kind); raise
 * emits `raised`, escalate an `escalated` event when the severity rises while it is open, clear
 * emits `cleared`, all with the same alertId. (What operators decide — acknowledge, close — is
 * on the `alert-commands` stream; it does not change what the rules do.)
 * Alert ids come from the subject, the kind and the event time of the raise, so the same input
 * always produces the same ids.
 */
export class AlertBook {
  private readonly open = new Map<string, OpenAlert>();

  static key(subject: AlertSubject, kind: string): string {
    return `${kind}\u0000${subject.lineId}\u0000${subject.deviceId ?? ''}`;
  }

  get(subject: AlertSubject, kind: string): OpenAlert | undefined {
    return this.open.get(AlertBook.key(subject, kind));
  }

  isOpen(subject: AlertSubject, kind: string): boolean {
    return this.open.has(AlertBook.key(subject, kind));
  }

  /** Raises unless one is open for (subject, kind); returns whether it raised. */
  raise(
    subject: AlertSubject,
    kind: string,
    severity: AlertSeverity,
    message: string,
    evidence: AlertEvidence,
    eventTime: number,
    ingestTime: number,
    emit: (alert: AlertEnvelope) => void,
  ): boolean {
    const key = AlertBook.key(subject, kind);
    if (this.open.has(key)) return false;
    const deviceId = subject.deviceId;
    const alert: OpenAlert = {
      alertId: `alert:${subject.lineId}${deviceId === undefined ? '' : `:${deviceId}`}:${kind}:${eventTime}`,
      kind,
      severity,
      lineId: subject.lineId,
      ...(deviceId === undefined ? {} : { deviceId }),
      raisedAt: eventTime,
    };
    this.open.set(key, alert);
    emit(alertEnvelope({ ...this.body(alert), state: 'raised', message, evidence }, eventTime, ingestTime));
    return true;
  }

  /**
   * Raises the severity of the open alert of (subject, kind) when `severity` is higher: emits an
   * `escalated` event of the same alert (state raised, the new severity, the previous one) and
   * returns true. A lower severity changes nothing: an alert keeps the worst level it reached
   * until it clears, so a signal hovering at the critical limit does not notify again and again.
   */
  escalate(
    subject: AlertSubject,
    kind: string,
    severity: AlertSeverity,
    message: string,
    evidence: AlertEvidence,
    eventTime: number,
    ingestTime: number,
    emit: (alert: AlertEnvelope) => void,
  ): boolean {
    const alert = this.open.get(AlertBook.key(subject, kind));
    if (alert === undefined || !isMoreSevere(severity, alert.severity)) return false;
    const previousSeverity = alert.severity;
    alert.severity = severity;
    emit(alertEnvelope({ ...this.body(alert), state: 'raised', change: 'escalated', previousSeverity, message, evidence }, eventTime, ingestTime));
    return true;
  }

  /** Clears the open alert of (subject, kind), if any; returns whether it cleared one. */
  clear(subject: AlertSubject, kind: string, message: string, evidence: AlertEvidence, eventTime: number, ingestTime: number, emit: (alert: AlertEnvelope) => void): boolean {
    const key = AlertBook.key(subject, kind);
    const alert = this.open.get(key);
    if (alert === undefined) return false;
    this.open.delete(key);
    emit(alertEnvelope({ ...this.body(alert), state: 'cleared', message, evidence }, eventTime, ingestTime));
    return true;
  }

  list(): OpenAlert[] {
    return [...this.open.values()].map((a) => ({ ...a }));
  }

  snapshot(): OpenAlert[] {
    return this.list();
  }

  restore(alerts: readonly OpenAlert[]): void {
    this.open.clear();
    for (const alert of alerts) this.open.set(AlertBook.key(alert, alert.kind), { ...alert });
  }

  private body(alert: OpenAlert) {
    return {
      alertId: alert.alertId,
      kind: alert.kind,
      severity: alert.severity,
      lineId: alert.lineId,
      ...(alert.deviceId === undefined ? {} : { deviceId: alert.deviceId }),
      raisedAt: alert.raisedAt,
    };
  }
}
