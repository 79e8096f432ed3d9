import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { SqliteReadModel } from '@meterstream/read-model';
import { createApiApp, InsecureExposureError } from './create-api-app';
import { startApiTestApp, testConfig, type ApiTestApp } from './testing/api-test-app';

/** These tests never acknowledge an alert. */
const noCommands = { append: async () => { throw new Error('not expected in this test'); } };

describe('createApiApp', () => {
  describe('exposure check', () => {
    let dir: string;
    let readModel: SqliteReadModel;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterstream-query-api-'));
      readModel = SqliteReadModel.open(path.join(dir, 'meterstream.db'));
    });
    afterEach(async () => {
      await readModel.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it.each(['0.0.0.0', '::', '192.168.1.20'])('refuses to serve on %s without API_TOKEN, saying how to fix it', async (host) => {
      const config = testConfig(dir, { HOST: host });
      const attempt = createApiApp({ readModel, alertCommands: noCommands, config, logger: false });
      await expect(attempt).rejects.toThrow(InsecureExposureError);
      await expect(attempt).rejects.toThrow(`refusing to serve the query API on ${host} without authentication: set API_TOKEN`);
    });

    it.each(['127.0.0.1', 'localhost', '::1'])('serves on loopback %s without a token', async (host) => {
      const app = await createApiApp({ readModel, alertCommands: noCommands, config: testConfig(dir, { HOST: host }), logger: false });
      await request(app.getHttpServer()).get('/lines').expect(200);
      await app.close();
    });
  });

  describe('HTTP surface', () => {
    let t: ApiTestApp;
    beforeAll(async () => {
      t = await startApiTestApp();
    });
    afterAll(async () => {
      await t.close();
    });

    it('publishes a valid OpenAPI 3 document at /docs-json with every path, parameter and bearer auth', async () => {
      const res = await request(t.server).get('/docs-json').expect(200).expect('Content-Type', /json/);
      const doc = res.body;
      expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
      expect(doc.info).toMatchObject({ title: 'meterstream query API', version: '1' });
      expect(Object.keys(doc.paths).sort()).toEqual([
        '/alerts',
        '/alerts/{alertId}/acknowledge',
        '/alerts/{alertId}/close',
        '/alerts/{alertId}/reopen',
        '/dead-letters',
        '/health',
        '/lines',
        '/lines/{lineId}',
        '/lines/{lineId}/aggregates',
        '/lines/{lineId}/readings',
        '/metrics',
        '/ready',
      ]);
      for (const [url, item] of Object.entries<Record<string, { responses: object }>>(doc.paths)) {
        expect([url, Object.keys(item)]).toEqual([url, /\/(acknowledge|close|reopen)$/.test(url) ? ['post'] : ['get']]);
      }

      const readings = doc.paths['/lines/{lineId}/readings'].get;
      expect(readings.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort()).toEqual(['path:lineId', 'query:from', 'query:limit', 'query:to']);
      expect(Object.keys(readings.responses).sort()).toEqual(['200', '400', '401', '404']);
      expect(readings.security).toEqual([{ bearer: [] }]);
      expect(doc.paths['/health'].get.security).toBeUndefined();
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });

      const alertsState = doc.paths['/alerts'].get.parameters.find((p: { name: string }) => p.name === 'state');
      expect(alertsState.schema.enum).toEqual(['raised', 'acknowledged', 'cleared', 'closed', 'open']);
      expect(doc.components.schemas.ReadingListDto.required).toEqual(expect.arrayContaining(['readings', 'truncated', 'from', 'to']));
      expect(doc.components.schemas.DeadLetterDto.properties.payloadText).toMatchObject({ type: 'string', nullable: true });
      expect(doc.components.schemas.VoltageStatsDto.properties.p95).toMatchObject({ type: 'number', nullable: true, description: expect.stringContaining('nearest rank') });
      expect(doc.components.schemas.AggregateDto.properties.energyKwh).toMatchObject({ type: 'number', nullable: true, description: expect.stringContaining('counts 0') });
    });

    it('serves the OpenAPI UI at /docs', async () => {
      const res = await request(t.server).get('/docs').redirects(1).expect(200);
      expect(res.text).toContain('swagger-ui');
    });

    it('answers an unknown route with a JSON 404', async () => {
      const res = await request(t.server).get('/meters').expect(404);
      expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
    });

    it('does not advertise the framework', async () => {
      const res = await request(t.server).get('/health');
      expect(res.headers['x-powered-by']).toBeUndefined();
    });
  });
});
