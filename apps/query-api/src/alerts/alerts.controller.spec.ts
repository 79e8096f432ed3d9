import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

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
    expect(res.body.alerts[1]).toEqual({
      alertId: 'ov-L08-1',
      kind: 'overvoltage',
      state: 'acknowledged',
      severity: 'critical',
      lineId: 'L08',
      deviceId: 'm-000100',
      message: 'meter m-000100 at 127.3 V above 126 V',
      evidence: { value: 127.3, threshold: 126, windowStart: '2026-11-29T05:39:00.000Z', windowEnd: '2026-11-29T05:40:00.000Z' },
      raisedAt: '2026-11-29T05:40:00.000Z',
      updatedAt: '2026-11-29T05:45:00.000Z',
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
      ['/alerts?state=closed', 'state must be one of raised, acknowledged, cleared, open, got "closed"'],
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

describe('POST /alerts/:alertId/acknowledge', () => {
  let t: ApiTestApp;
  beforeEach(async () => {
    t = await startApiTestApp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('acknowledges an open alert: the alerts stream gets the event, the read model and the response the new state', async () => {
    const res = await request(t.server).post('/alerts/uv-L07-1/acknowledge').send({ by: 'dispatch-ana', note: 'crew on the way' }).expect(200);
    expect(res.body).toMatchObject({ alertId: 'uv-L07-1', state: 'acknowledged', raisedAt: '2026-11-29T05:59:00.000Z', updatedAt: '2026-11-29T06:00:00.000Z' });
    expect(res.body.message).toMatch(/^Acknowledged by dispatch-ana: crew on the way — /);
    const listed = await request(t.server).get('/alerts?state=acknowledged').expect(200);
    expect(listed.body.alerts.map((a: { alertId: string }) => a.alertId)).toEqual(['uv-L07-1', 'ov-L08-1']);

    const records = [];
    for (const partition of await t.log.partitions('alerts')) records.push(...(await t.log.read('alerts', partition, null, 10)));
    expect(records).toHaveLength(1);
    const event = JSON.parse(records[0].value.toString());
    expect(event).toMatchObject({ type: 'alert', id: 'uv-L07-1:acknowledged', lineId: 'L07', body: { state: 'acknowledged', acknowledgedBy: 'dispatch-ana', alertId: 'uv-L07-1' } });
  });

  it('changes nothing when the alert is already acknowledged', async () => {
    const res = await request(t.server).post('/alerts/ov-L08-1/acknowledge').send({ by: 'someone-else' }).expect(200);
    expect(res.body).toMatchObject({ state: 'acknowledged', message: 'meter m-000100 at 127.3 V above 126 V' });
    expect(await t.log.countSync('alerts')).toBe(0);
  });

  it('answers 404 for an unknown alert, 409 for a cleared one and 400 without `by`, saying what to do', async () => {
    const unknown = await request(t.server).post('/alerts/nope/acknowledge').send({ by: 'ana' }).expect(404);
    expect(unknown.body.message).toBe('no alert "nope"; GET /alerts lists them');
    const cleared = await request(t.server).post('/alerts/uv-L07-0/acknowledge').send({ by: 'ana' }).expect(409);
    expect(cleared.body.message).toBe('alert "uv-L07-0" cleared at 2026-11-29T05:20:00.000Z; only open alerts can be acknowledged');
    const missing = await request(t.server).post('/alerts/uv-L07-1/acknowledge').send({}).expect(400);
    expect(JSON.stringify(missing.body)).toContain('by must name who acknowledges');
    expect(await t.log.countSync('alerts')).toBe(0);
  });
});
