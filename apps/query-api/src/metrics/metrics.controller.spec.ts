import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

describe('GET /metrics', () => {
  let t: ApiTestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('exposes per-line late, duplicate and open-alert figures and the dead-letter count in Prometheus format, running totals as counters', async () => {
    t = await startApiTestApp();
    await t.readModel.apply({ lineCounters: [{ lineId: 'L07', lateReadings: 4, duplicateReadings: 2 }] });
    const res = await request(t.server).get('/metrics').expect(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.text).toMatch(/^meterstream_late_readings_total\{line="L07"\} 4$/m);
    expect(res.text).toMatch(/^meterstream_duplicate_readings_total\{line="L07"\} 2$/m);
    expect(res.text).toMatch(/^meterstream_open_alerts\{line="L07"\} 1$/m);
    expect(res.text).toMatch(/^meterstream_lines 3$/m);
    expect(res.text).toMatch(/^meterstream_dead_letters_total 2$/m);
    for (const counter of ['meterstream_late_readings_total', 'meterstream_duplicate_readings_total', 'meterstream_dead_letters_total']) {
      expect(res.text).toMatch(new RegExp(`^# TYPE ${counter} counter$`, 'm'));
    }
    // A second scrape reports the same totals (set from the read model, not added up again).
    expect((await request(t.server).get('/metrics').expect(200)).text).toMatch(/^meterstream_late_readings_total\{line="L07"\} 4$/m);
    // The process metrics prom-client collects by default.
    expect(res.text).toMatch(/^# TYPE process_cpu_seconds_total counter$/m);
    expect(res.text).toMatch(/^meterstream_service_info\{service="query-api"\} 1$/m);
    // No delay measured on any line yet: no sample, rather than a 0 that would read as on time.
    expect(res.text).not.toMatch(/^meterstream_delivery_delay_seconds\{/m);
  });

  it("exposes each line's latest delivery delay in seconds", async () => {
    t = await startApiTestApp();
    const at = Date.parse('2026-11-29T05:58:00.000Z');
    await t.readModel.apply({ lineCounters: [{ lineId: 'L07', lateReadings: 0, duplicateReadings: 0, deliveryDelay: { ewmaMs: 185_000, maxMs: 241_500, measuredAt: at - 60_000 } }] });
    await t.readModel.apply({ lineCounters: [{ lineId: 'L07', lateReadings: 0, duplicateReadings: 0, deliveryDelay: { ewmaMs: 180_250, maxMs: 241_500, measuredAt: at } }] });
    const res = await request(t.server).get('/metrics').expect(200);
    expect(res.text).toContain('meterstream_delivery_delay_seconds{line="L07"} 180.25');
    expect(res.text).toContain('meterstream_delivery_delay_max_seconds{line="L07"} 241.5');
    expect(res.text).toMatch(/^# TYPE meterstream_delivery_delay_seconds gauge$/m);
    expect(res.text).not.toContain('meterstream_delivery_delay_seconds{line="L08"}');
  });

  it('times every request by route pattern and status, refusals included', async () => {
    t = await startApiTestApp();
    await request(t.server).get('/lines/L07/readings').expect(200);
    await request(t.server).get('/lines/L07/readings?limit=0').expect(400);
    await request(t.server).get('/no-such-route').expect(404);
    const res = await request(t.server).get('/metrics').expect(200);
    expect(res.text).toMatch(/^# TYPE meterstream_http_request_duration_seconds histogram$/m);
    expect(res.text).toMatch(/^meterstream_http_request_duration_seconds_count\{method="GET",route="\/lines\/:lineId\/readings",status="200"\} 1$/m);
    expect(res.text).toMatch(/^meterstream_http_request_duration_seconds_count\{method="GET",route="\/lines\/:lineId\/readings",status="400"\} 1$/m);
    expect(res.text).toMatch(/^meterstream_http_request_duration_seconds_count\{method="GET",route="unmatched",status="404"\} 1$/m);
  });

  it('needs the token when one is set', async () => {
    t = await startApiTestApp({ env: { API_TOKEN: 'secret-token-1234567890' } });
    await request(t.server).get('/metrics').expect(401);
    await request(t.server).get('/metrics').set('Authorization', 'Bearer secret-token-1234567890').expect(200);
  });
});
