import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

describe('GET /health', () => {
  let t: ApiTestApp;
  beforeAll(async () => {
    t = await startApiTestApp({ batch: {} });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers ok with the server time, even over an empty read model', async () => {
    const res = await request(t.server).get('/health').expect(200);
    expect(res.body).toEqual({ status: 'ok', time: '2026-11-29T06:00:00.000Z', uptimeSeconds: 0 });
  });

  it('serves empty lists before any data arrives', async () => {
    expect((await request(t.server).get('/lines').expect(200)).body).toEqual({ lines: [] });
    expect((await request(t.server).get('/alerts').expect(200)).body).toEqual({ alerts: [] });
    expect((await request(t.server).get('/dead-letters').expect(200)).body).toEqual({ deadLetters: [], nextCursor: null });
  });
});
