import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

describe('GET /health and /ready (terminus)', () => {
  let t: ApiTestApp;
  beforeAll(async () => {
    t = await startApiTestApp({ batch: {}, env: { API_TOKEN: 'a-token-of-some-length-123' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers liveness and readiness without a token, even over an empty read model', async () => {
    expect((await request(t.server).get('/health').expect(200)).body).toMatchObject({ status: 'ok' });
    expect((await request(t.server).get('/ready').expect(200)).body).toMatchObject({ status: 'ok', details: { 'read-model': { status: 'up' } } });
  });

  it('serves empty lists before any data arrives', async () => {
    const auth = { Authorization: 'Bearer a-token-of-some-length-123' };
    expect((await request(t.server).get('/lines').set(auth).expect(200)).body).toEqual({ lines: [] });
    expect((await request(t.server).get('/alerts').set(auth).expect(200)).body).toEqual({ alerts: [] });
    expect((await request(t.server).get('/dead-letters').set(auth).expect(200)).body).toEqual({ deadLetters: [], nextCursor: null });
  });

  it('is not ready, saying why, once its read model is gone; still alive', async () => {
    await t.readModel.close();
    const res = await request(t.server).get('/ready').expect(503);
    expect(res.body.status).toBe('error');
    expect(res.body.error['read-model'].status).toBe('down');
    expect(res.body.error['read-model'].message).toEqual(expect.any(String));
    await request(t.server).get('/health').expect(200);
  });
});
