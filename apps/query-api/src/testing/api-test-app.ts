/**
 * Test support for the query API specs: a real SQLite read model in a temp dir, filled through
 * `apply` with envelopes built the way the pipeline builds them (parseReading, deadLetter), and
 * the app over it with a pinned clock.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { loadConfig, type Config } from '@meterstream/config';
import {
  alertCommandEnvelope,
  ENVELOPE_VERSION,
  readingTopic,
  type AlertBody,
  type AlertCommandBody,
  type AlertCommandEnvelope,
  type AlertEnvelope,
  type ReadingEnvelope,
} from '@meterstream/contracts';
import { SqliteReadModel, type ReadModelBatch } from '@meterstream/read-model';
import { aggregateEnvelope, deadLetterEnvelope, readingEnvelope } from '@meterstream/test-harness';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { StreamAlertCommandSink } from '../alerts/alert-command-sink';
import { createApiApp } from '../create-api-app';

/** The pinned "now" of every API test. */
export const NOW = Date.parse('2026-11-29T06:00:00.000Z');
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export function reading(lineId: string, deviceId: string, time: number, fields: Record<string, unknown>): ReadingEnvelope {
  return readingEnvelope(lineId, deviceId, time, fields, 200);
}

export const rejected = deadLetterEnvelope;
export const aggregate = aggregateEnvelope;

export function alert(body: Omit<AlertBody, 'kind' | 'severity' | 'message'> & Partial<AlertBody>, eventTime: number): AlertEnvelope {
  const full: AlertBody = {
    kind: 'undervoltage',
    severity: 'warning',
    message: `line ${body.lineId} mean voltage ${body.evidence.value} V below ${body.evidence.threshold} V`,
    ...body,
  };
  return { v: ENVELOPE_VERSION, type: 'alert', id: `${full.alertId}:${full.state}`, lineId: full.lineId, deviceId: full.deviceId ?? null, eventTime, ingestTime: eventTime, body: full };
}

/** An operator's command about an alert of `lineId`, as the API appends it. */
export function command(body: AlertCommandBody, lineId: string, deviceId: string | null = null): AlertCommandEnvelope {
  return alertCommandEnvelope(body, { lineId, deviceId });
}

/** Bytes that are not UTF-8: how a broken device firmware shows up. */
export const BINARY_PAYLOAD = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0xff]);
export const MISSING_VOLTAGE_PAYLOAD = Buffer.from('{"deviceId":"m-000009","ts":"2026-11-29T05:58:00.000Z"}');

/** The data set most specs query. Lines: L07 (readings, windows, alerts), L08 (one reading, an acknowledged alert), L09 (a window only). */
export function standardBatch(): ReadModelBatch {
  return {
    readings: [
      reading('L07', 'm-000001', NOW - 2 * HOUR, { voltage: 121.0 }),
      reading('L07', 'm-000002', NOW - 30 * MINUTE, { voltage: 118.2 }),
      reading('L07', 'm-000001', NOW - 30 * MINUTE, { voltage: 119.6, current: 8.2, powerFactor: 0.97, kw: 0.95, kwh: 10234.5, status: 'ok' }),
      reading('L07', 'm-000001', NOW - 10 * MINUTE, { voltage: 112.9 }),
      reading('L08', 'm-000100', NOW - 5 * MINUTE, { voltage: 122.4 }),
    ],
    aggregates: [
      aggregate('L07', NOW - 2 * HOUR),
      aggregate('L07', NOW - 3 * MINUTE),
      aggregate('L07', NOW - 2 * MINUTE, { voltage: { min: 112.1, max: 114.3, mean: 112.9, stddev: 0.6, p5: 112.2, p95: 114.1 }, current: undefined, kw: undefined, energyKwh: undefined }),
      aggregate('L07', NOW - 2 * MINUTE, { deviceId: 'm-000001', meters: 1, count: 60 }),
      aggregate('L09', NOW - 20 * MINUTE),
    ],
    alerts: [
      alert({ alertId: 'uv-L07-1', state: 'raised', lineId: 'L07', raisedAt: NOW - MINUTE, evidence: { value: 112.9, threshold: 114, windowStart: NOW - 2 * MINUTE, windowEnd: NOW - MINUTE } }, NOW - MINUTE),
      alert({ alertId: 'uv-L07-0', state: 'raised', lineId: 'L07', raisedAt: NOW - 50 * MINUTE, evidence: { value: 113.5, threshold: 114, windowStart: NOW - 51 * MINUTE, windowEnd: NOW - 50 * MINUTE } }, NOW - 50 * MINUTE),
      alert({ alertId: 'uv-L07-0', state: 'cleared', lineId: 'L07', raisedAt: NOW - 50 * MINUTE, severity: 'info', message: 'line L07 back within 114-126 V', evidence: { value: 115.2, threshold: 114, windowStart: NOW - 41 * MINUTE, windowEnd: NOW - 40 * MINUTE } }, NOW - 40 * MINUTE),
      alert({ alertId: 'ov-L08-1', kind: 'overvoltage', state: 'raised', severity: 'critical', lineId: 'L08', deviceId: 'm-000100', raisedAt: NOW - 20 * MINUTE, message: 'meter m-000100 at 127.3 V above 126 V', evidence: { value: 127.3, threshold: 126, windowStart: NOW - 21 * MINUTE, windowEnd: NOW - 20 * MINUTE } }, NOW - 20 * MINUTE),
    ],
    alertCommands: [command({ action: 'acknowledge', alertId: 'ov-L08-1', by: 'dispatch-bo', at: NOW - 15 * MINUTE, note: 'crew on site' }, 'L08', 'm-000100')],
    deadLetters: [rejected(readingTopic('L07'), MISSING_VOLTAGE_PAYLOAD, NOW - 2 * MINUTE), rejected('meters/L07/data', BINARY_PAYLOAD, NOW - MINUTE)],
  };
}

export interface ApiTestApp {
  app: INestApplication;
  readModel: SqliteReadModel;
  /** For supertest: `request(t.server).get(...)`. */
  server: ReturnType<INestApplication['getHttpServer']>;
  /** The embedded log the API appends operators' alert commands to. */
  log: EmbeddedStreamLog;
  close(): Promise<void>;
}

export function testConfig(dir: string, env: Record<string, string> = {}): Config {
  return loadConfig({ DATA_DIR: dir, ...env });
}

/** A real read model in a fresh temp dir with `batch` applied, and the API over it (not listening). */
export async function startApiTestApp(options: { batch?: ReadModelBatch; env?: Record<string, string> } = {}): Promise<ApiTestApp> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterstream-query-api-'));
  const config = testConfig(dir, options.env);
  const readModel = SqliteReadModel.open(config.databaseFile);
  await readModel.apply(options.batch ?? standardBatch());
  const log = EmbeddedStreamLog.open(config.databaseFile, { partitions: 2 });
  const app = await createApiApp({ readModel, alertCommands: new StreamAlertCommandSink(log), config, logger: false, clock: () => NOW });
  return {
    app,
    readModel,
    log,
    server: app.getHttpServer(),
    async close() {
      await app.close();
      await readModel.close();
      await log.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
