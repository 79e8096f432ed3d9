import type { FieldError, Reading } from './reading';

export const ENVELOPE_VERSION = 1;

export type EnvelopeType = 'reading' | 'aggregate' | 'alert' | 'alert-command' | 'dead-letter' | 'model';

/**
 * Every record on every stream. Times are epoch milliseconds. `ingestTime` of a derived record
 * (aggregate, alert) is the ingest time of the input that produced it, never the wall clock, so
 * the same input gives byte-identical outputs.
 */
export interface Envelope<TType extends EnvelopeType = EnvelopeType, TBody = unknown> {
  v: typeof ENVELOPE_VERSION;
  type: TType;
  id: string;
  lineId: string;
  deviceId: string | null;
  eventTime: number;
  ingestTime: number;
  body: TBody;
}

export type ReadingEnvelope = Envelope<'reading', Reading>;

/** Statistics of one numeric quantity over a window. */
export interface Stats {
  min: number;
  max: number;
  mean: number;
  stddev: number;
}

/**
 * Voltage statistics of a window, with exact percentiles by the nearest-rank method: of the
 * window's n values sorted ascending, the Pth percentile is the value at 1-based rank
 * ceil(P * n / 100), i.e. the smallest value such that at least P % of the values are <= it.
 * Always one of the observed values (no interpolation), and independent of arrival order.
 */
export interface VoltageStats extends Stats {
  /** 5th percentile (nearest rank). */
  p5: number;
  /** 95th percentile (nearest rank). */
  p95: number;
}

export interface AggregateBody {
  lineId: string;
  /** Present for per-meter windows; absent for per-line windows. */
  deviceId?: string;
  windowStart: number;
  windowEnd: number;
  count: number;
  /** Distinct meters that reported in the window. */
  meters: number;
  voltage: VoltageStats;
  current?: { mean: number; max: number };
  kw?: { mean: number; max: number };
  /**
   * Energy consumed in the window from the cumulative kWh register: for each meter, its last
   * minus its first kWh value among its readings in the window ordered by event time, summed over
   * the meters (a per-meter window: that meter's own). The first reading only marks the start, so
   * a meter with one reading in the window contributes 0. A register that ends lower than it
   * started (meter replaced or reset) contributes 0, never a negative amount. Absent when no
   * reading in the window carried kwh.
   */
  energyKwh?: number;
}

export type AggregateEnvelope = Envelope<'aggregate', AggregateBody>;

/**
 * Where a rule says an alert is: raised (and still open as far as the rule can tell) or cleared.
 * What people decided about it (acknowledged, closed) is not in this stream: it is in
 * `alert-commands` (alert-command.ts), a source of its own that replay keeps.
 */
export type AlertState = 'raised' | 'cleared';
export type AlertSeverity = 'info' | 'warning' | 'critical';

/**
 * A change of an open alert that is neither its raise nor its clear: its severity moved
 * (`escalated`: warning → critical). The event keeps state `raised` and the alert's id; only
 * its envelope id tells it apart (`{alertId}:escalated:{eventTime}`). Open for more kinds of
 * change without a new alert.
 */
export type AlertChange = 'escalated' | 'de-escalated';

export interface AlertBody {
  /** Stable for the lifetime of one alert: raised, escalated and cleared share it. */
  alertId: string;
  kind: string;
  state: AlertState;
  severity: AlertSeverity;
  /** Set on an event that changes an open alert without raising or clearing it (a new severity). */
  change?: AlertChange;
  /** With `change`: the severity the alert had before this event. */
  previousSeverity?: AlertSeverity;
  lineId: string;
  deviceId?: string;
  message: string;
  /**
   * What the rule saw: the value, the threshold it crossed, the span of event time it looked at;
   * for model-based rules also what the model expected, the anomaly score and the model version.
   */
  evidence: {
    value: number;
    threshold: number;
    windowStart: number;
    windowEnd: number;
    expected?: number;
    score?: number;
    modelVersion?: number;
    [key: string]: unknown;
  };
  /** Event time at which the alert was raised. */
  raisedAt: number;
}

export type AlertEnvelope = Envelope<'alert', AlertBody>;

/** True for the event that raises a new alert (not an escalation of an open one, which also says `raised`). */
export function isRaise(body: Pick<AlertBody, 'state' | 'change'>): boolean {
  return body.state === 'raised' && body.change === undefined;
}

export interface DeadLetterBody {
  /** One line a person can act on. */
  reason: string;
  errors: FieldError[];
  topic: string;
  /** The bytes exactly as they arrived, base64. */
  payload: string;
  /** For a concentrator batch (a JSON array): the elements rejected; the others were ingested. */
  rejectedIndexes?: number[];
  receivedAt: number;
}

export type DeadLetterEnvelope = Envelope<'dead-letter', DeadLetterBody>;

export function encodeEnvelope(envelope: Envelope): Buffer {
  return Buffer.from(JSON.stringify(envelope));
}

export function decodeEnvelope<T extends Envelope = Envelope>(bytes: Buffer | string): T {
  return JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8')) as T;
}
