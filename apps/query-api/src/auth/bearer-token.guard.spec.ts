import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

const TOKEN = 'f3b1c2d4e5a60718293a4b5c6d7e8f90';

describe('bearer token authentication', () => {
  let t: ApiTestApp;
  beforeAll(async () => {
    // A non-loopback HOST is allowed because a token is set.
    t = await startApiTestApp({ env: { HOST: '0.0.0.0', API_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await t.close();
  });

  it.each(['/lines', '/lines/L07/readings', '/alerts', '/dead-letters'])('refuses %s without a token, saying what to send', async (url) => {
    const res = await request(t.server).get(url).expect(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="meterstream"');
    expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'missing Authorization header: send Authorization: Bearer <API_TOKEN>' });
  });

  it('refuses a wrong token, a token of another length and another scheme', async () => {
    for (const header of [`Bearer ${TOKEN.slice(0, -1)}x`, 'Bearer short', `Basic ${TOKEN}`, TOKEN]) {
      const res = await request(t.server).get('/lines').set('Authorization', header).expect(401);
      expect(res.body.message).toMatch(/^invalid bearer token/);
    }
  });

  it('serves with the token, whatever the case of the scheme', async () => {
    const res = await request(t.server).get('/lines').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    expect(res.body.lines).toHaveLength(3);
    await request(t.server).get('/alerts?state=open').set('Authorization', `bearer ${TOKEN}`).expect(200);
  });

  it('checks the token before validating the query, so nothing leaks to strangers', async () => {
    await request(t.server).get('/lines/L07/readings?limit=0').expect(401);
  });

  it('leaves /health public for load balancers', async () => {
    await request(t.server).get('/health').expect(200);
  });
});
