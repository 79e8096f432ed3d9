import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { STREAMS } from '@meterstream/contracts';
import { caughtUp, EmbeddedStreamLogCounter, makeTempDir, MINUTE, outputs, PipelineProcesses, readModelState, recordInput, ROOT, START, waitFor } from '@meterstream/test-harness';

interface AlertJson {
  alertId: string;
  kind: string;
  lineId: string;
  state: string;
  ruleState: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  note: string | null;
  closedBy: string | null;
  closedAt: string | null;
  reason: string | null;
}

/** Both services see the same timing as the replay: no window fires on the wall clock (see replay.spec.ts). */
const ENV = { IDLE_TIMEOUT_MS: String(24 * 3_600_000), ALERT_CHANNELS: '' };

/**
 * Human decisions survive replay: an operator acknowledges one alert and closes another through
 * the real query API (processes built from dist/, the embedded default), the real processor
 * applies both from the `alert-commands` stream, and after `meterstream replay` — which throws
 * away the read model and the alerts stream and rebuilds them from the readings — both are still
 * acknowledged and closed, with who, when, the note and the reason.
 */
describe('alert commands across a replay', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let pipeline: PipelineProcesses | undefined;
  beforeEach(() => (temp = makeTempDir('meterstream-alert-commands-')));
  afterEach(async () => {
    // Every child stopped, also when the test failed.
    await pipeline?.stop();
    pipeline = undefined;
    temp.cleanup();
  });

  it('keeps an acknowledgement and a closure, with their fields, through `meterstream replay`', async () => {
    const file = path.join(temp.dir, 'meterstream.db');
    // Two lines still out of range when the recording ends: their alerts are open.
    await recordInput(file, [
      { kind: 'sag', lineId: 'L05', start: START + 20 * MINUTE, end: START + 90 * MINUTE, params: { deltaV: 12 } },
      { kind: 'swell', lineId: 'L07', start: START + 30 * MINUTE, end: START + 90 * MINUTE, params: { deltaV: 8 } },
      { kind: 'out-of-order', probability: 0.02, params: { minDelayMs: 1_000, maxDelayMs: 8_000 } },
    ]);
    // No broker: nothing is published here (the recording is in the log already).
    pipeline = await PipelineProcesses.start({ mqttUrl: 'mqtt://127.0.0.1:1', dataDir: temp.dir, bridge: false, env: ENV });
    const api = pipeline;
    await waitFor(() => caughtUp(file), { what: 'the processor to process the recording', timeoutMs: 120_000, intervalMs: 250 });

    const openAlerts = await waitFor(
      async () => {
        const { alerts } = await api.get<{ alerts: AlertJson[] }>('/alerts?state=open');
        const sag = alerts.find((a) => a.lineId === 'L05' && a.kind === 'voltage-low');
        const swell = alerts.find((a) => a.lineId === 'L07' && a.kind === 'voltage-high');
        return sag && swell ? { sag, swell } : undefined;
      },
      { what: 'the open voltage-low alert on L05 and voltage-high on L07', timeoutMs: 60_000, intervalMs: 250 },
    );
    const post = async (url: string, body: object) => {
      const res = await fetch(`${api.apiUrl}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect([url, res.status]).toEqual([url, 200]);
      return (await res.json()) as AlertJson;
    };
    const { sag, swell } = openAlerts;
    await post(`/alerts/${encodeURIComponent(sag.alertId)}/acknowledge`, { by: 'dispatch-ana', note: 'crew on the way' });
    await post(`/alerts/${encodeURIComponent(swell.alertId)}/close`, { by: 'dispatch-bo', reason: 'line stopped reporting; feeder isolated for works' });

    // The processor applies the commands to the read model (the API only appended them).
    const decided = await waitFor(
      async () => {
        const { alerts } = await api.get<{ alerts: AlertJson[] }>('/alerts');
        const acknowledged = alerts.find((a) => a.alertId === sag.alertId);
        const closed = alerts.find((a) => a.alertId === swell.alertId);
        return acknowledged?.state === 'acknowledged' && closed?.state === 'closed' ? { acknowledged, closed } : undefined;
      },
      { what: 'the processor to apply both commands', timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(decided.acknowledged).toMatchObject({ acknowledgedBy: 'dispatch-ana', note: 'crew on the way', closedBy: null, ruleState: 'raised' });
    expect(decided.acknowledged.acknowledgedAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(decided.closed).toMatchObject({ closedBy: 'dispatch-bo', reason: 'line stopped reporting; feeder isolated for works', ruleState: 'raised' });
    expect(decided.closed.closedAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    // Once the read model shows them, the processor's checkpoints cover them too: stop it (replay refuses while it runs).
    await pipeline.stop();
    const counter = new EmbeddedStreamLogCounter(file);
    expect(counter.count(STREAMS.alertCommands)).toBe(2);
    const liveOutputs = outputs(file);
    const liveModel = await readModelState(file);

    const printed = execFileSync(process.execPath, [path.join(ROOT, 'dist/apps/cli/src/main.js'), 'replay'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: temp.dir, ...ENV },
      encoding: 'utf8',
    });
    expect(printed).toContain("2 of them operators' alert commands, kept and applied again");
    expect(printed).toContain('(2 alert commands applied)');

    // The source stream is kept, the alerts stream rebuilt identically, the read model too — decisions included.
    expect(counter.count(STREAMS.alertCommands)).toBe(2);
    expect(outputs(file)).toEqual(liveOutputs);
    expect(await readModelState(file)).toEqual(liveModel);

    // And through the API, as an operator sees it.
    await pipeline.restart('api');
    const after = await waitFor(
      async () => {
        const res = await fetch(`${api.apiUrl}/alerts`).catch(() => undefined);
        return res?.ok ? ((await res.json()) as { alerts: AlertJson[] }).alerts : undefined;
      },
      { what: 'the restarted API', timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(after.find((a) => a.alertId === sag.alertId)).toEqual(decided.acknowledged);
    expect(after.find((a) => a.alertId === swell.alertId)).toEqual(decided.closed);
    const open = await api.get<{ alerts: AlertJson[] }>('/alerts?state=open');
    expect(open.alerts.map((a) => a.alertId)).toContain(sag.alertId);
    expect(open.alerts.map((a) => a.alertId)).not.toContain(swell.alertId);
  }, 300_000);
});
