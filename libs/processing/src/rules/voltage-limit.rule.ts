import type { AggregateEnvelope, AlertEnvelope, AlertSeverity } from '@meterstream/contracts';
import { alertEnvelope, formatVolts, isMoreSevere } from './alert-envelope';
import { closedHysteresis, Hysteresis, type HysteresisState } from './hysteresis';
import type { AlertRule } from './rule';

export interface VoltageLimitOptions {
  /** ANSI C84.1 Range A minimum: a window whose lowest voltage is below it raises voltage-low. */
  voltageLow: number;
  /** ANSI C84.1 Range A maximum: a window whose highest voltage is above it raises voltage-high. */
  voltageHigh: number;
  /** ANSI C84.1 Range B minimum: below it the alert is critical. */
  rangeBLow: number;
  /** ANSI C84.1 Range B maximum: above it the alert is critical. */
  rangeBHigh: number;
  /** Consecutive in-range windows that clear an open alert (hysteresis). */
  clearAfterWindows: number;
  /**
   * Deadband (volts): an open alert counts a window as back in range only when it is this far
   * inside the limit, so a line hovering at 114 V does not raise and clear over and over. Default 0.
   */
  clearMarginV?: number;
}

export type VoltageLimitKind = 'voltage-low' | 'voltage-high';

/** An alert that has been raised and not yet cleared. */
export interface OpenVoltageAlert {
  lineId: string;
  kind: VoltageLimitKind;
  alertId: string;
  severity: AlertSeverity;
  raisedAt: number;
  /** In-range windows seen since the last out-of-range one. */
  inRangeStreak: number;
}

export interface VoltageLimitState {
  open: OpenVoltageAlert[];
}

/** An open alert as the rule keeps it: its hysteresis holds the in-range streak. */
interface TrackedAlert {
  alert: Omit<OpenVoltageAlert, 'inRangeStreak'>;
  hysteresis: HysteresisState;
}

/** How one direction (low or high) reads a window and words its messages. */
interface Limit {
  kind: VoltageLimitKind;
  /** The window value this limit watches: voltage min for low, max for high. */
  value(aggregate: AggregateEnvelope): number;
  breaches(value: number): boolean;
  /** Back inside the limit by the deadband. */
  recovered(value: number): boolean;
  critical(value: number): boolean;
  threshold: number;
  criticalThreshold: number;
  raisedMessage(lineId: string, value: number, critical: boolean): string;
  clearedMessage(lineId: string, value: number, windows: number): string;
}

/**
 * ANSI C84.1 service-voltage limits on per-line windows, with hysteresis: raise voltage-low when a
 * window's minimum drops below Range A (voltage-high when its maximum exceeds it), at most one
 * open alert per line and kind; clear it after clearAfterWindows consecutive fired windows back
 * in range (by the deadband), so a line hovering at the limit does not flood operators. Severity:
 * critical beyond Range B, warning otherwise; an open warning whose line goes beyond Range B is
 * escalated to critical by an `escalated` event of the same alert (channels deliver it). It does
 * not fall back to warning before it clears: the alert says the worst the line reached, and a
 * line hovering at Range B does not notify operators on every window.
 */
export class VoltageLimitRule implements AlertRule {
  readonly name = 'voltage-limit';
  private readonly limits: Limit[];
  /** A breaching window raises at once; recovered windows in a row clear. */
  private readonly hysteresis: Hysteresis;
  /** Open alerts by `${kind}\u0000${lineId}`, in the order they were raised. */
  private readonly open = new Map<string, TrackedAlert>();

  constructor(options: VoltageLimitOptions) {
    this.hysteresis = new Hysteresis({ raiseAfter: 1, clearAfter: options.clearAfterWindows });
    const { voltageLow, voltageHigh, rangeBLow, rangeBHigh } = options;
    const margin = options.clearMarginV ?? 0;
    this.limits = [
      {
        kind: 'voltage-low',
        value: (a) => a.body.voltage.min,
        breaches: (v) => v < voltageLow,
        recovered: (v) => v >= voltageLow + margin,
        critical: (v) => v < rangeBLow,
        threshold: voltageLow,
        criticalThreshold: rangeBLow,
        raisedMessage: (line, v, critical) =>
          critical
            ? `Line ${line} voltage ${formatVolts(v)} below ANSI Range B minimum ${formatVolts(rangeBLow)}`
            : `Line ${line} voltage ${formatVolts(v)} below ANSI Range A minimum ${formatVolts(voltageLow)}`,
        clearedMessage: (line, v, n) =>
          `Line ${line} voltage back at or above ANSI Range A minimum ${formatVolts(voltageLow)} for ${consecutiveWindows(n)} (lowest ${formatVolts(v)} in the last)`,
      },
      {
        kind: 'voltage-high',
        value: (a) => a.body.voltage.max,
        breaches: (v) => v > voltageHigh,
        recovered: (v) => v <= voltageHigh - margin,
        critical: (v) => v > rangeBHigh,
        threshold: voltageHigh,
        criticalThreshold: rangeBHigh,
        raisedMessage: (line, v, critical) =>
          critical
            ? `Line ${line} voltage ${formatVolts(v)} above ANSI Range B maximum ${formatVolts(rangeBHigh)}`
            : `Line ${line} voltage ${formatVolts(v)} above ANSI Range A maximum ${formatVolts(voltageHigh)}`,
        clearedMessage: (line, v, n) =>
          `Line ${line} voltage back at or below ANSI Range A maximum ${formatVolts(voltageHigh)} for ${consecutiveWindows(n)} (highest ${formatVolts(v)} in the last)`,
      },
    ];
  }

  onAggregate(aggregate: AggregateEnvelope, emit: (alert: AlertEnvelope) => void): void {
    const body = aggregate.body;
    if (body.deviceId !== undefined) return; // a line-level rule: per-meter windows are for other rules
    for (const limit of this.limits) {
      const key = `${limit.kind}\u0000${body.lineId}`;
      const value = limit.value(aggregate);
      const tracked = this.open.get(key);
      const hysteresis = tracked?.hysteresis ?? closedHysteresis();
      const breaching = limit.breaches(value);
      // Recovered windows in a row, this one included, should it clear the alert.
      const inRangeStreak = hysteresis.calm + 1;
      // Inside the limit but within the deadband is not recovered: it restarts the streak like a breach.
      const change = this.hysteresis.observe(hysteresis, breaching, !breaching && limit.recovered(value));
      if (change === 'raise') {
        const critical = limit.critical(value);
        const alert: TrackedAlert['alert'] = {
          lineId: body.lineId,
          kind: limit.kind,
          alertId: `alert:${body.lineId}:${limit.kind}:${body.windowStart}`,
          severity: critical ? 'critical' : 'warning',
          raisedAt: body.windowStart,
        };
        this.open.set(key, { alert, hysteresis });
        emit(
          alertEnvelope(
            {
              alertId: alert.alertId,
              kind: limit.kind,
              state: 'raised',
              severity: alert.severity,
              lineId: body.lineId,
              message: limit.raisedMessage(body.lineId, value, critical),
              evidence: evidence(limit, value, aggregate),
              raisedAt: alert.raisedAt,
            },
            body.windowStart,
            aggregate.ingestTime,
          ),
        );
      } else if (change === undefined && tracked !== undefined && breaching && limit.critical(value) && isMoreSevere('critical', tracked.alert.severity)) {
        const previousSeverity = tracked.alert.severity;
        tracked.alert = { ...tracked.alert, severity: 'critical' };
        emit(
          alertEnvelope(
            {
              alertId: tracked.alert.alertId,
              kind: limit.kind,
              state: 'raised',
              severity: 'critical',
              change: 'escalated',
              previousSeverity,
              lineId: body.lineId,
              message: limit.raisedMessage(body.lineId, value, true),
              evidence: evidence(limit, value, aggregate),
              raisedAt: tracked.alert.raisedAt,
            },
            body.windowStart,
            aggregate.ingestTime,
          ),
        );
      } else if (change === 'clear' && tracked !== undefined) {
        this.open.delete(key);
        emit(
          alertEnvelope(
            {
              alertId: tracked.alert.alertId,
              kind: limit.kind,
              state: 'cleared',
              severity: tracked.alert.severity,
              lineId: body.lineId,
              message: limit.clearedMessage(body.lineId, value, inRangeStreak),
              evidence: evidence(limit, value, aggregate),
              raisedAt: tracked.alert.raisedAt,
            },
            body.windowStart,
            aggregate.ingestTime,
          ),
        );
      }
    }
  }

  /** Open alerts, for tests and the runtime's diagnostics. */
  openAlerts(): OpenVoltageAlert[] {
    return [...this.open.values()].map(({ alert, hysteresis }) => ({ ...alert, inRangeStreak: hysteresis.calm }));
  }

  snapshot(): VoltageLimitState {
    return { open: this.openAlerts() };
  }

  restore(state: unknown): void {
    this.open.clear();
    for (const { inRangeStreak, ...alert } of (state as VoltageLimitState).open) {
      this.open.set(`${alert.kind}\u0000${alert.lineId}`, { alert, hysteresis: { open: true, breaches: 0, calm: inRangeStreak } });
    }
  }
}

function consecutiveWindows(n: number): string {
  return n === 1 ? '1 window' : `${n} consecutive windows`;
}

/** What the rule saw: the window's value, the Range A limit it is judged by, and the window. */
function evidence(limit: Limit, value: number, aggregate: AggregateEnvelope) {
  return {
    value,
    threshold: limit.threshold,
    criticalThreshold: limit.criticalThreshold,
    windowStart: aggregate.body.windowStart,
    windowEnd: aggregate.body.windowEnd,
  };
}
