import type { AggregateEnvelope, AlertEnvelope, ReadingEnvelope } from '@meterstream/contracts';
import { formatVolts } from './alert-envelope';
import { AlertBook, type OpenAlert } from './alert-book';
import type { AlertRule } from './rule';

export interface FixedVarianceState {
  open: OpenAlert[];
  lines: Array<[string, number, number]>;
}

/**
 * The original system's rule, kept as a selectable baseline: a reading is predicted from its line
 * alone (the line's mean voltage so far: the hosted model's one feature was the line number) and
 * alerts when it misses that prediction by more than a fixed `toleranceV` (20 V). Clears on the
 * meter's next reading within the tolerance. No load, no time of day, no meter position.
 */
export class FixedVarianceRule implements AlertRule {
  readonly name = 'fixed-variance';
  private readonly book = new AlertBook();
  /** lineId → [count, mean]. */
  private readonly lines = new Map<string, [number, number]>();

  constructor(private readonly toleranceV = 20) {}

  onReading(reading: ReadingEnvelope, emit: (alert: AlertEnvelope) => void): void {
    const v = reading.body.voltage;
    let stats = this.lines.get(reading.lineId);
    if (stats === undefined) this.lines.set(reading.lineId, (stats = [0, v]));
    const predicted = stats[1];
    const miss = v - predicted;
    const subject = { lineId: reading.lineId, deviceId: reading.deviceId ?? reading.body.deviceId };
    const evidence = {
      value: v,
      expected: Math.round(predicted * 1000) / 1000,
      threshold: this.toleranceV,
      score: Math.round((miss / this.toleranceV) * 1000) / 1000,
      modelVersion: 0,
      windowStart: reading.eventTime,
      windowEnd: reading.eventTime,
    };
    if (Math.abs(miss) > this.toleranceV) {
      this.book.raise(
        subject,
        'fixed-variance',
        'warning',
        `Meter ${subject.deviceId} on line ${reading.lineId} read ${formatVolts(v)}, more than ${formatVolts(this.toleranceV)} from the line's ${formatVolts(Math.round(predicted * 10) / 10)}`,
        evidence,
        reading.eventTime,
        reading.ingestTime,
        emit,
      );
    } else {
      this.book.clear(subject, 'fixed-variance', `Meter ${subject.deviceId} on line ${reading.lineId} back within ${formatVolts(this.toleranceV)}`, evidence, reading.eventTime, reading.ingestTime, emit);
    }
    stats[0]++;
    stats[1] += (v - stats[1]) / stats[0];
  }

  onAggregate(_aggregate: AggregateEnvelope, _emit: (alert: AlertEnvelope) => void): void {}

  openAlerts(): OpenAlert[] {
    return this.book.list();
  }

  snapshot(): FixedVarianceState {
    return { open: this.book.snapshot(), lines: [...this.lines].map(([id, [n, mean]]) => [id, n, mean]) };
  }

  restore(state: unknown): void {
    const s = state as FixedVarianceState;
    this.book.restore(s.open);
    this.lines.clear();
    for (const [id, n, mean] of s.lines) this.lines.set(id, [n, mean]);
  }
}
