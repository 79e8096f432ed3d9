import request from 'supertest';
import { HOUR, MINUTE, NOW, startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

const iso = (ms: number) => new Date(ms).toISOString();

describe('lines endpoints', () => {
  let t: ApiTestApp;
  beforeAll(async () => {
    t = await startApiTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const get = (url: string) => request(t.server).get(url);

  const latestL07Window = {
    id: `agg:L07:${NOW - 2 * MINUTE}:60000`,
    lineId: 'L07',
    deviceId: null,
    windowStart: '2026-11-29T05:58:00.000Z',
    windowEnd: '2026-11-29T05:59:00.000Z',
    count: 120,
    meters: 2,
    voltage: { min: 112.1, max: 114.3, mean: 112.9, stddev: 0.6, p5: 112.2, p95: 114.1 },
    current: null,
    kw: null,
    energyKwh: null,
  };
  const openL07Alert = {
    alertId: 'uv-L07-1',
    kind: 'undervoltage',
    state: 'raised',
    ruleState: 'raised',
    severity: 'warning',
    lineId: 'L07',
    deviceId: null,
    message: 'line L07 mean voltage 112.9 V below 114 V',
    evidence: { value: 112.9, threshold: 114, windowStart: '2026-11-29T05:58:00.000Z', windowEnd: '2026-11-29T05:59:00.000Z' },
    raisedAt: '2026-11-29T05:59:00.000Z',
    updatedAt: '2026-11-29T05:59:00.000Z',
    acknowledgedBy: null,
    acknowledgedAt: null,
    note: null,
    closedBy: null,
    closedAt: null,
    reason: null,
  };

  describe('GET /lines', () => {
    it('lists every line with its newest reading time, newest per-line window and open alerts', async () => {
      const res = await get('/lines').expect(200);
      expect(res.body.lines.map((l: { lineId: string }) => l.lineId)).toEqual(['L07', 'L08', 'L09']);
      expect(res.body.lines[0]).toEqual({
        lineId: 'L07',
        latestReadingTime: '2026-11-29T05:50:00.000Z',
        latestWindow: latestL07Window,
        openAlerts: [openL07Alert],
        lateReadings: 0,
        duplicateReadings: 0,
        deliveryDelay: null,
      });
      expect(res.body.lines[1]).toMatchObject({ lineId: 'L08', latestReadingTime: '2026-11-29T05:55:00.000Z', latestWindow: null });
      expect(res.body.lines[1].openAlerts.map((a: { alertId: string; state: string }) => [a.alertId, a.state])).toEqual([['ov-L08-1', 'acknowledged']]);
      expect(res.body.lines[2]).toMatchObject({ lineId: 'L09', latestReadingTime: null, openAlerts: [], latestWindow: { windowStart: '2026-11-29T05:40:00.000Z' } });
    });

    it('refuses query parameters, naming the one it did not expect', async () => {
      const res = await get('/lines?limit=5').expect(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: ['unknown query parameter "limit": this endpoint takes no query parameters'] });
    });
  });

  describe('GET /lines/:lineId', () => {
    it("returns one line's summary", async () => {
      const res = await get('/lines/L07').expect(200);
      expect(res.body).toEqual({
        lineId: 'L07',
        latestReadingTime: '2026-11-29T05:50:00.000Z',
        latestWindow: latestL07Window,
        openAlerts: [openL07Alert],
        lateReadings: 0,
        duplicateReadings: 0,
        deliveryDelay: null,
      });
    });

    it("reports the line's delivery delay measured latest, with the time of the measurement", async () => {
      const other = await startApiTestApp();
      try {
        const delay = (ewmaMs: number, maxMs: number, measuredAt: number) => ({ lineId: 'L08', lateReadings: 0, duplicateReadings: 0, deliveryDelay: { ewmaMs, maxMs, measuredAt } });
        await other.readModel.apply({ lineCounters: [delay(185_000, 241_000, NOW - 40 * MINUTE)] });
        await other.readModel.apply({ lineCounters: [delay(1_200, 241_000, NOW - 2 * MINUTE)] });
        await other.readModel.apply({ lineCounters: [delay(185_000, 241_000, NOW - 40 * MINUTE)] }); // a stale copy, re-applied
        const res = await request(other.server).get('/lines/L08').expect(200);
        expect(res.body.deliveryDelay).toEqual({ ewmaMs: 1_200, maxMs: 241_000, measuredAt: '2026-11-29T05:58:00.000Z' });
        const listed = await request(other.server).get('/lines').expect(200);
        expect(listed.body.lines.map((l: { lineId: string; deliveryDelay: unknown }) => [l.lineId, l.deliveryDelay])).toEqual([
          ['L07', null],
          ['L08', res.body.deliveryDelay],
          ['L09', null],
        ]);
      } finally {
        await other.close();
      }
    });

    it('answers 404 for a line that never reported', async () => {
      const res = await get('/lines/L42').expect(404);
      expect(res.body).toEqual({
        statusCode: 404,
        error: 'Not Found',
        message: 'no data for line "L42": it has never reported; GET /lines lists the lines that have',
      });
    });
  });

  describe('GET /lines/:lineId/aggregates', () => {
    it('defaults to the hour before now and returns per-line windows by start', async () => {
      const res = await get('/lines/L07/aggregates').expect(200);
      expect(res.body.lineId).toBe('L07');
      expect(res.body.from).toBe('2026-11-29T05:00:00.000Z');
      expect(res.body.to).toBe('2026-11-29T06:00:00.000Z');
      expect(res.body.windows).toEqual([
        {
          id: `agg:L07:${NOW - 3 * MINUTE}:60000`,
          lineId: 'L07',
          deviceId: null,
          windowStart: '2026-11-29T05:57:00.000Z',
          windowEnd: '2026-11-29T05:58:00.000Z',
          count: 120,
          meters: 2,
          voltage: { min: 117.5, max: 121.25, mean: 119.4, stddev: 0.8, p5: 118, p95: 120.75 },
          current: { mean: 8.2, max: 11.5 },
          kw: { mean: 0.95, max: 1.4 },
          energyKwh: 1.25,
        },
        latestL07Window,
      ]);
    });

    it('takes from and to as ISO-8601 or epoch ms, start inclusive and end exclusive', async () => {
      const iso8601 = await get(`/lines/L07/aggregates?from=2026-11-29T03:00:00Z&to=${NOW - 3 * MINUTE}`).expect(200);
      expect(iso8601.body.from).toBe('2026-11-29T03:00:00.000Z');
      expect(iso8601.body.windows.map((w: { windowStart: string }) => w.windowStart)).toEqual([iso(NOW - 2 * HOUR)]);

      const offset = await get('/lines/L07/aggregates?from=2026-11-29T10:57:00%2B05:00&to=2026-11-29T05:58:00.001Z').expect(200);
      expect(offset.body.windows.map((w: { windowStart: string }) => w.windowStart)).toEqual(['2026-11-29T05:57:00.000Z', '2026-11-29T05:58:00.000Z']);
    });

    it("returns one meter's windows with deviceId", async () => {
      const res = await get('/lines/L07/aggregates?deviceId=m-000001').expect(200);
      expect(res.body.windows).toHaveLength(1);
      expect(res.body.windows[0]).toMatchObject({ deviceId: 'm-000001', windowStart: '2026-11-29T05:58:00.000Z', meters: 1, count: 60 });
    });

    it('answers 404 for a line that never reported', async () => {
      const res = await get('/lines/L42/aggregates').expect(404);
      expect(res.body.message).toBe('no data for line "L42": it has never reported; GET /lines lists the lines that have');
    });
  });

  describe('GET /lines/:lineId/readings', () => {
    it('returns the last hour oldest first, ties by meter, with every field', async () => {
      const res = await get('/lines/L07/readings').expect(200);
      expect(res.body).toEqual({
        lineId: 'L07',
        from: '2026-11-29T05:00:00.000Z',
        to: '2026-11-29T06:00:00.000Z',
        limit: 1000,
        truncated: false,
        readings: [
          {
            id: `m-000001@${NOW - 30 * MINUTE}`,
            lineId: 'L07',
            deviceId: 'm-000001',
            eventTime: '2026-11-29T05:30:00.000Z',
            voltage: 119.6,
            current: 8.2,
            powerFactor: 0.97,
            kw: 0.95,
            kwh: 10234.5,
            status: 'ok',
          },
          {
            id: `m-000002@${NOW - 30 * MINUTE}`,
            lineId: 'L07',
            deviceId: 'm-000002',
            eventTime: '2026-11-29T05:30:00.000Z',
            voltage: 118.2,
            current: null,
            powerFactor: null,
            kw: null,
            kwh: null,
            status: null,
          },
          expect.objectContaining({ deviceId: 'm-000001', eventTime: '2026-11-29T05:50:00.000Z', voltage: 112.9 }),
        ],
      });
    });

    it('stops at the limit and says the range holds more', async () => {
      const res = await get(`/lines/L07/readings?from=${NOW - 3 * HOUR}&limit=2`).expect(200);
      expect(res.body.limit).toBe(2);
      expect(res.body.truncated).toBe(true);
      expect(res.body.readings.map((r: { eventTime: string; voltage: number }) => [r.eventTime, r.voltage])).toEqual([
        ['2026-11-29T04:00:00.000Z', 121],
        ['2026-11-29T05:30:00.000Z', 119.6],
      ]);

      const exact = await get(`/lines/L07/readings?from=${NOW - 3 * HOUR}&limit=4`).expect(200);
      expect(exact.body.truncated).toBe(false);
      expect(exact.body.readings).toHaveLength(4);
    });

    it('answers 404 for a line that never reported', async () => {
      await get('/lines/nope/readings').expect(404);
    });
  });

  describe('validation', () => {
    const badRequest = async (url: string, message: string) => {
      const res = await get(url).expect(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: [message] });
    };

    it('names a time it cannot read and what to send', async () => {
      await badRequest('/lines/L07/aggregates?from=yesterday', 'from must be an ISO-8601 time (e.g. 2026-11-29T05:00:00Z) or epoch milliseconds, got "yesterday"');
      await badRequest('/lines/L07/readings?to=2026-02-30T00:00:00Z', 'to must be an ISO-8601 time (e.g. 2026-11-29T05:00:00Z) or epoch milliseconds, got "2026-02-30T00:00:00Z"');
      // A local time without a zone would mean different instants on different servers.
      await badRequest('/lines/L07/readings?from=2026-11-29T05:00:00', 'from must be an ISO-8601 time (e.g. 2026-11-29T05:00:00Z) or epoch milliseconds, got "2026-11-29T05:00:00"');
      await badRequest('/lines/L07/readings?from=1&from=2', 'from must be an ISO-8601 time (e.g. 2026-11-29T05:00:00Z) or epoch milliseconds, got ["1","2"]');
    });

    it('refuses a range that is empty, reversed or longer than 31 days', async () => {
      await badRequest(`/lines/L07/aggregates?from=${NOW}&to=${NOW}`, 'from must be before to, got from=2026-11-29T06:00:00.000Z and to=2026-11-29T06:00:00.000Z');
      await badRequest('/lines/L07/readings?from=2026-12-01T00:00:00Z', 'from must be before to (to defaults to now), got from=2026-12-01T00:00:00.000Z and to=2026-11-29T06:00:00.000Z');
      await badRequest(
        '/lines/L07/aggregates?from=2026-10-01T00:00:00Z&to=2026-11-10T00:00:00Z',
        'the range from 2026-10-01T00:00:00.000Z to 2026-11-10T00:00:00.000Z spans 40.0 days; send from and to at most 31 days apart and page through longer periods',
      );
    });

    it('accepts exactly 31 days', async () => {
      await get('/lines/L07/aggregates?from=2026-10-29T06:00:00Z').expect(200);
    });

    it('names a limit out of range', async () => {
      await badRequest('/lines/L07/readings?limit=0', 'limit must be an integer from 1 to 10000, got 0');
      await badRequest('/lines/L07/readings?limit=10001', 'limit must be an integer from 1 to 10000, got 10001');
      await badRequest('/lines/L07/readings?limit=ten', 'limit must be an integer from 1 to 10000, got "ten"');
      await badRequest('/lines/L07/readings?limit=2.5', 'limit must be an integer from 1 to 10000, got "2.5"');
    });

    it('refuses an unknown parameter, listing the ones the endpoint takes', async () => {
      await badRequest('/lines/L07/readings?form=2026-11-29T05:00:00Z', 'unknown query parameter "form": this endpoint accepts from, limit, to');
      await badRequest('/lines/L07/aggregates?limit=5', 'unknown query parameter "limit": this endpoint accepts deviceId, from, to');
    });

    it('validates before looking the line up, so a bad request to an unknown line is still a 400', async () => {
      await badRequest('/lines/L42/readings?limit=0', 'limit must be an integer from 1 to 10000, got 0');
    });
  });
});
