import request from 'supertest';
import { decodeEnvelope, type AlertCommandEnvelope } from '@meterstream/contracts';
import { NOW, startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

describe('GET /alerts', () => {
  let t: ApiTestApp;
  beforeAll(async () => {
    t = await startApiTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const ids = async (url: string) => (await request(t.server).get(url).expect(200)).body.alerts.map((a: { alertId: string }) => a.alertId);

  it('lists every alert once, in its latest state, newest raised first', async () => {
    const res = await request(t.server).get('/alerts').expect(200);
    expect(res.body.alerts.map((a: { alertId: string; state: string }) => [a.alertId, a.state])).toEqual([
      ['uv-L07-1', 'raised'],
      ['ov-L08-1', 'acknowledged'],
      ['uv-L07-0', 'cleared'],
    ]);
    // The acknowledgement in fields of its own, not in the message.
    expect(res.body.alerts[1]).toEqual({
      alertId: 'ov-L08-1',
      kind: 'overvoltage',
      state: 'acknowledged',
      ruleState: 'raised',
      severity: 'critical',
      lineId: 'L08',
      deviceId: 'm-000100',
      message: 'meter m-000100 at 127.3 V above 126 V',
      evidence: { value: 127.3, threshold: 126, windowStart: '2026-11-29T05:39:00.000Z', windowEnd: '2026-11-29T05:40:00.000Z' },
      raisedAt: '2026-11-29T05:40:00.000Z',
      updatedAt: '2026-11-29T05:40:00.000Z',
      acknowledgedBy: 'dispatch-bo',
      acknowledgedAt: '2026-11-29T05:45:00.000Z',
      note: 'crew on site',
      closedBy: null,
      closedAt: null,
      reason: null,
    });
    // The cleared alert keeps the time it was raised and shows when it cleared.
    expect(res.body.alerts[2]).toMatchObject({ raisedAt: '2026-11-29T05:10:00.000Z', updatedAt: '2026-11-29T05:20:00.000Z', severity: 'info' });
  });

  it('filters by state, where open means raised or acknowledged', async () => {
    expect(await ids('/alerts?state=open')).toEqual(['uv-L07-1', 'ov-L08-1']);
    expect(await ids('/alerts?state=raised')).toEqual(['uv-L07-1']);
    expect(await ids('/alerts?state=acknowledged')).toEqual(['ov-L08-1']);
    expect(await ids('/alerts?state=cleared')).toEqual(['uv-L07-0']);
  });

  it('filters by line, combines filters, and limits', async () => {
    expect(await ids('/alerts?lineId=L07')).toEqual(['uv-L07-1', 'uv-L07-0']);
    expect(await ids('/alerts?lineId=L07&state=open')).toEqual(['uv-L07-1']);
    expect(await ids('/alerts?lineId=L99')).toEqual([]);
    expect(await ids('/alerts?limit=1')).toEqual(['uv-L07-1']);
  });

  it('names a bad state, line or limit and what to send', async () => {
    const cases: [string, string][] = [
      ['/alerts?state=closing', 'state must be one of raised, acknowledged, cleared, closed, open, got "closing"'],
      ['/alerts?lineId=', 'lineId must be one non-empty id (at most 200 characters) such as L07, got ""'],
      ['/alerts?lineId=L07&lineId=L08', 'lineId must be one non-empty id (at most 200 characters) such as L07, got ["L07","L08"]'],
      ['/alerts?limit=0', 'limit must be an integer from 1 to 10000, got 0'],
      ['/alerts?status=open', 'unknown query parameter "status": this endpoint accepts limit, lineId, state'],
    ];
    for (const [url, message] of cases) {
      const res = await request(t.server).get(url).expect(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [message] });
    }
  });
});

/** The commands the API appended to the alert-commands stream, oldest first. */
async function appendedCommands(t: ApiTestApp): Promise<AlertCommandEnvelope[]> {
  const records = [];
  for (const partition of await t.log.partitions('alert-commands')) records.push(...(await t.log.read('alert-commands', partition, null, 100)));
  return records.map((r) => decodeEnvelope<AlertCommandEnvelope>(r.value)).sort((a, b) => a.body.at - b.body.at);
}

describe('alert commands: POST /alerts/:alertId/acknowledge | close | reopen', () => {
  let t: ApiTestApp;
  beforeEach(async () => {
    t = await startApiTestApp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('acknowledges an open alert: one command on alert-commands, nothing on alerts, the acknowledgement in its own fields', async () => {
    const res = await request(t.server).post('/alerts/uv-L07-1/acknowledge').send({ by: 'dispatch-ana', note: 'crew on the way' }).expect(200);
    expect(res.body).toMatchObject({
      alertId: 'uv-L07-1',
      state: 'acknowledged',
      acknowledgedBy: 'dispatch-ana',
      acknowledgedAt: '2026-11-29T06:00:00.000Z',
      note: 'crew on the way',
      closedBy: null,
      // The message is the rule's, untouched.
      message: 'line L07 mean voltage 112.9 V below 114 V',
      raisedAt: '2026-11-29T05:59:00.000Z',
    });
    const commands = await appendedCommands(t);
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({
      type: 'alert-command',
      id: expect.stringMatching(/^cmd:/),
      lineId: 'L07',
      eventTime: NOW,
      body: { action: 'acknowledge', alertId: 'uv-L07-1', by: 'dispatch-ana', at: NOW, note: 'crew on the way' },
    });
    expect(t.log.countSync('alerts')).toBe(0);
    // The API does not write the read model: the processor applies the command (alerts stay as they were here).
    expect((await t.readModel.alerts({})).find((a) => a.alertId === 'uv-L07-1')?.state).toBe('raised');
  });

  it('changes nothing when the alert is already acknowledged', async () => {
    const res = await request(t.server).post('/alerts/ov-L08-1/acknowledge').send({ by: 'someone-else' }).expect(200);
    expect(res.body).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'dispatch-bo', message: 'meter m-000100 at 127.3 V above 126 V' });
    expect(t.log.countSync('alert-commands')).toBe(0);
  });

  it('closes an open alert with a reason, and reopens it: each a command, the response as the command leaves the alert', async () => {
    const closed = await request(t.server).post('/alerts/ov-L08-1/close').send({ by: 'dispatch-ana', reason: 'line stopped reporting; feeder de-energised for works' }).expect(200);
    expect(closed.body).toMatchObject({
      alertId: 'ov-L08-1',
      state: 'closed',
      closedBy: 'dispatch-ana',
      closedAt: '2026-11-29T06:00:00.000Z',
      reason: 'line stopped reporting; feeder de-energised for works',
      // The acknowledgement stays.
      acknowledgedBy: 'dispatch-bo',
    });
    // The processor's part, here by hand: the read model applies what was appended.
    await t.readModel.apply({ alertCommands: await appendedCommands(t) });
    const reopened = await request(t.server).post('/alerts/ov-L08-1/reopen').send({ by: 'dispatch-cy', note: 'still out of range' }).expect(200);
    expect(reopened.body).toMatchObject({ state: 'acknowledged', closedBy: null, closedAt: null, reason: null, acknowledgedBy: 'dispatch-bo' });
    const commands = await appendedCommands(t);
    expect(commands.map((c) => [c.body.action, c.body.by, c.lineId, c.deviceId])).toEqual([
      ['close', 'dispatch-ana', 'L08', 'm-000100'],
      ['reopen', 'dispatch-cy', 'L08', 'm-000100'],
    ]);
    expect(commands[1].body.note).toBe('still out of range');
  });

  it('answers 404 for an unknown alert, 409 saying what to do for a command that makes no sense now, 400 without `by` or a reason', async () => {
    const post = (url: string, body: object, status: number) => request(t.server).post(url).send(body).expect(status);
    expect((await post('/alerts/nope/close', { by: 'ana', reason: 'x' }, 404)).body.message).toBe('no alert "nope"; GET /alerts lists them');
    expect((await post('/alerts/uv-L07-0/acknowledge', { by: 'ana' }, 409)).body.message).toBe(
      'alert "uv-L07-0" cleared at 2026-11-29T05:20:00.000Z; only open alerts can be acknowledged',
    );
    expect((await post('/alerts/uv-L07-0/close', { by: 'ana', reason: 'x' }, 409)).body.message).toBe(
      'alert "uv-L07-0" cleared by itself at 2026-11-29T05:20:00.000Z; only open alerts can be closed',
    );
    expect((await post('/alerts/uv-L07-1/reopen', { by: 'ana' }, 409)).body.message).toBe('alert "uv-L07-1" is raised, not closed; only a closed alert can be reopened');
    const missingBy = await post('/alerts/uv-L07-1/acknowledge', {}, 400);
    expect(JSON.stringify(missingBy.body)).toContain('by must name who acknowledges');
    const missingReason = await post('/alerts/uv-L07-1/close', { by: 'ana' }, 400);
    expect(missingReason.body.message).toEqual(['reason must say why the alert is closed, e.g. {"by": "dispatch-ana", "reason": "line stopped reporting"}']);
    const emptyReason = await post('/alerts/uv-L07-1/close', { by: 'ana', reason: '' }, 400);
    expect(emptyReason.body.message).toEqual(['reason must say why the alert is closed, e.g. {"by": "dispatch-ana", "reason": "line stopped reporting"}']);
    expect(t.log.countSync('alert-commands')).toBe(0);

    // Closing a closed alert: refused, saying how to reopen it.
    await post('/alerts/uv-L07-1/close', { by: 'ana', reason: 'line stopped reporting' }, 200);
    await t.readModel.apply({ alertCommands: await appendedCommands(t) });
    expect((await post('/alerts/uv-L07-1/close', { by: 'bo', reason: 'again' }, 409)).body.message).toBe(
      'alert "uv-L07-1" was closed by ana at 2026-11-29T06:00:00.000Z; it is closed already (POST /alerts/uv-L07-1/reopen reopens it)',
    );
    expect((await post('/alerts/uv-L07-1/acknowledge', { by: 'bo' }, 409)).body.message).toBe(
      'alert "uv-L07-1" was closed by ana at 2026-11-29T06:00:00.000Z; reopen it first (POST /alerts/uv-L07-1/reopen) to acknowledge it',
    );
    expect(t.log.countSync('alert-commands')).toBe(1);
  });

  it('needs the bearer token like every other route', async () => {
    const guarded = await startApiTestApp({ env: { API_TOKEN: 'secret-token-1234' } });
    try {
      await request(guarded.server).post('/alerts/uv-L07-1/close').send({ by: 'ana', reason: 'x' }).expect(401);
      await request(guarded.server).post('/alerts/uv-L07-1/close').set('Authorization', 'Bearer secret-token-1234').send({ by: 'ana', reason: 'x' }).expect(200);
      expect(guarded.log.countSync('alert-commands')).toBe(1);
    } finally {
      await guarded.close();
    }
  });
});
