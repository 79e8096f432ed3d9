import { encodeEnvelope, ENVELOPE_VERSION, STREAMS, type AlertEnvelope, type AlertState } from '@meterstream/contracts';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { makeTempDir } from '@meterstream/test-harness';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AlertChannel } from '../alert-channel';
import { ALERT_DEAD_LETTERS_STREAM, decodeAlertDeadLetter, type AlertDeadLetter } from '../alert-dead-letters';
import type { Clock } from '../clock';

/** Test helpers of the alert channels: alert envelopes, a log on a temp file, a virtual clock, receivers. */

const T0 = Date.parse('2026-11-29T06:00:00.000Z');

/** The n-th alert of a line, shaped as the processor's rules shape them (id `${alertId}:${state}`). */
export function alertFixture(lineId: string, n: number, state: AlertState = 'raised'): AlertEnvelope {
  const raisedAt = T0 + n * 60_000;
  const alertId = `alert:${lineId}:voltage-low:${raisedAt}`;
  return {
    v: ENVELOPE_VERSION,
    type: 'alert',
    id: `${alertId}:${state}`,
    lineId,
    deviceId: null,
    eventTime: raisedAt,
    ingestTime: raisedAt + 10_000,
    body: {
      alertId,
      kind: 'voltage-low',
      state,
      severity: 'warning',
      lineId,
      message: `${lineId}: mean voltage 112.4 V below 114 V`,
      evidence: { value: 112.4, threshold: 114, windowStart: raisedAt - 60_000, windowEnd: raisedAt },
      raisedAt,
    },
  };
}

/** The embedded log on a fresh temp file; `reopen` opens a second connection (another process). */
export function tempLog(partitions = 4): { log: EmbeddedStreamLog; reopen(): EmbeddedStreamLog; cleanup(): Promise<void> } {
  const { dir, cleanup } = makeTempDir('meterstream-alerts-');
  const file = path.join(dir, 'log.db');
  const opened: EmbeddedStreamLog[] = [];
  const open = () => {
    const log = EmbeddedStreamLog.open(file, { partitions, synchronous: 'normal' });
    opened.push(log);
    return log;
  };
  return {
    log: open(),
    reopen: open,
    cleanup: async () => {
      for (const log of opened) await log.close();
      cleanup();
    },
  };
}

/** Appends alerts the way the processor does (partition key = lineId). */
export async function appendAlerts(log: EmbeddedStreamLog, alerts: readonly AlertEnvelope[]): Promise<void> {
  await log.append(
    STREAMS.alerts,
    alerts.map((a) => ({ key: a.lineId, value: encodeEnvelope(a) })),
  );
}

export async function readDeadLetters(log: EmbeddedStreamLog): Promise<AlertDeadLetter[]> {
  const out: AlertDeadLetter[] = [];
  for (const partition of await log.partitions(ALERT_DEAD_LETTERS_STREAM)) {
    for (const record of await log.read(ALERT_DEAD_LETTERS_STREAM, partition, null, 10_000)) out.push(decodeAlertDeadLetter(record.value));
  }
  return out;
}

/** Virtual time: sleep() moves the clock forward at once, so waits cost nothing and are exact. */
export class VirtualClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(private time = T0) {}
  now(): number {
    return this.time;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.sleeps.push(ms);
    this.time += ms;
  }
}

/**
 * An in-memory channel for dispatcher tests: records every attempt; `gate(id)` makes the delivery
 * of that alert wait until `release(id)` (to catch it in flight); `fail` decides failures.
 */
export class RecordingChannel implements AlertChannel {
  readonly attempts: string[] = [];
  readonly delivered: string[] = [];
  private readonly gates = new Map<string, { opened: Promise<void>; open(): void }>();
  fail: (alert: AlertEnvelope, attempt: number) => Error | undefined = () => undefined;

  constructor(readonly name: string) {}

  gate(id: string): void {
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    this.gates.set(id, { opened, open });
  }

  release(id: string): void {
    this.gates.get(id)?.open();
  }

  async deliver(alert: AlertEnvelope): Promise<void> {
    this.attempts.push(alert.id);
    const gate = this.gates.get(alert.id);
    if (gate) await gate.opened;
    const error = this.fail(alert, this.attempts.filter((id) => id === alert.id).length);
    if (error) throw error;
    this.delivered.push(alert.id);
  }

  async close(): Promise<void> {
    for (const gate of this.gates.values()) gate.open();
  }
}

export interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

/**
 * A real HTTP receiver on 127.0.0.1. `respond` picks each request's status (default 200); every
 * request is kept with the status it was answered with.
 */
export async function startReceiver(respond: (request: { headers: http.IncomingHttpHeaders; body: string }) => number | 'hang' = () => 200) {
  const requests: ReceivedRequest[] = [];
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = receiver.respond({ headers: req.headers, body });
      if (status === 'hang') {
        hanging.push(res);
        return;
      }
      requests.push({ headers: req.headers, body, status });
      res.writeHead(status, status >= 300 && status < 400 ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end(status >= 400 ? `status ${status}` : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const receiver = {
    url: `http://127.0.0.1:${port}/hooks/alerts?token=abc`,
    port,
    requests,
    respond,
    /** Alert ids the receiver accepted (2xx), in arrival order. */
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => JSON.parse(r.body).id as string),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}
