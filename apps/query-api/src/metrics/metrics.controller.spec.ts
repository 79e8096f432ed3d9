import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

describe('GET /metrics', () => {
  let t: ApiTestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('exposes per-line late, duplicate and open-alert figures and the dead-letter count in Prometheus format', async () => {
    t = await startApiTestApp();
    await t.readModel.apply({ lineCounters: [{ lineId: 'L07', lateReadings: 4, duplicateReadings: 2 }] });
    const res = await request(t.server).get('/metrics').expect(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.text).toContain('meterstream_late_readings{line="L07"} 4');
    expect(res.text).toContain('meterstream_duplicate_readings{line="L07"} 2');
    expect(res.text).toContain('meterstream_open_alerts{line="L07"} 1');
    expect(res.text).toMatch(/^meterstream_lines 3$/m);
    expect(res.text).toMatch(/^meterstream_dead_letters 2$/m);
  });

  it('needs the token when one is set', async () => {
    t = await startApiTestApp({ env: { API_TOKEN: 'secret-token-1234567890' } });
    await request(t.server).get('/metrics').expect(401);
    await request(t.server).get('/metrics').set('Authorization', 'Bearer secret-token-1234567890').expect(200);
  });
});
