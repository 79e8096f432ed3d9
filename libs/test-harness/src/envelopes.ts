import {
  aggregateId,
  deadLetter,
  ENVELOPE_VERSION,
  parseReading,
  readingTopic,
  type AggregateBody,
  type AggregateEnvelope,
  type DeadLetterEnvelope,
  type ReadingEnvelope,
} from '@meterstream/contracts';

/**
 * Envelopes for tests, built the way the pipeline builds them (readings and dead letters through
 * the contract's own parser), so fixtures cannot drift from the contract.
 */
export function readingEnvelope(lineId: string, deviceId: string, time: number, fields: Record<string, unknown>, ingestDelayMs = 150): ReadingEnvelope {
  const payload = Buffer.from(JSON.stringify({ deviceId, ts: new Date(time).toISOString(), ...fields }));
  const result = parseReading(readingTopic(lineId), payload, { ingestTime: time + ingestDelayMs });
  if (!result.ok) throw new Error(`bad reading fixture: ${JSON.stringify(result.errors)}`);
  return result.envelope;
}

export function deadLetterEnvelope(topic: string, payload: Buffer, ingestTime: number): DeadLetterEnvelope {
  const result = parseReading(topic, payload, { ingestTime });
  if (result.ok) throw new Error('dead-letter fixture parsed fine');
  return deadLetter(topic, payload, result.errors, ingestTime, result.deviceId);
}

const FIXTURE_WINDOW_MS = 60_000;

/** A one-minute per-line window with plausible figures; override any field. */
export function aggregateEnvelope(lineId: string, windowStart: number, overrides: Partial<AggregateBody> = {}): AggregateEnvelope {
  const body: AggregateBody = {
    lineId,
    windowStart,
    windowEnd: windowStart + FIXTURE_WINDOW_MS,
    count: 120,
    meters: 2,
    voltage: { min: 117.5, max: 121.25, mean: 119.4, stddev: 0.8, p5: 118, p95: 120.75 },
    current: { mean: 8.2, max: 11.5 },
    kw: { mean: 0.95, max: 1.4 },
    energyKwh: 1.25,
    ...overrides,
  };
  return {
    v: ENVELOPE_VERSION,
    type: 'aggregate',
    id: aggregateId(body.deviceId ?? lineId, windowStart, FIXTURE_WINDOW_MS),
    lineId,
    deviceId: body.deviceId ?? null,
    eventTime: body.windowEnd,
    ingestTime: body.windowEnd + 10_000,
    body,
  };
}
