import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from '../testing/api-test-app';
import { CHART_LIBRARY_PATH, DASHBOARD_SCRIPT_PATH } from './dashboard-routes';

const TOKEN = '0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f';

describe('dashboard', () => {
  describe('without API_TOKEN', () => {
    let t: ApiTestApp;
    beforeAll(async () => {
      t = await startApiTestApp({ env: { VOLTAGE_LOW: '113.5', VOLTAGE_HIGH: '126' } });
    });
    afterAll(async () => {
      await t.close();
    });

    it.each(['/', '/dashboard'])('serves the page at %s, loading the chart library and the app script from this server', async (url) => {
      const res = await request(t.server).get(url).expect(200).expect('Content-Type', 'text/html; charset=utf-8');
      expect(res.text).toMatch(/^<!doctype html>/);
      expect(res.text).toContain(`<script src="${CHART_LIBRARY_PATH}"></script>`);
      expect(res.text).toContain(`<script src="${DASHBOARD_SCRIPT_PATH}"></script>`);
      // Nothing from another origin: the dashboard works offline and in locked-down networks.
      expect(res.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    });

    it('hands the configured Range A limits to the page, so the dashed lines match the alert rules', async () => {
      const res = await request(t.server).get('/').expect(200);
      expect(res.text).toContain('data-voltage-low="113.5" data-voltage-high="126"');
      expect(res.text).toContain('Range A 113.5–126 V');
    });

    it('forbids scripts and requests to other origins on the page, which shows bytes devices sent', async () => {
      const res = await request(t.server).get('/').expect(200);
      const csp = res.headers['content-security-policy'];
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("default-src 'none'");
    });

    it("serves chart.js's UMD bundle from node_modules as JavaScript", async () => {
      const res = await request(t.server).get(CHART_LIBRARY_PATH).expect(200).expect('Content-Type', /^text\/javascript/);
      expect(res.text.startsWith('/*!\n * Chart.js v4.')).toBe(true);
      const onDisk = fs.readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
      expect(res.text).toBe(onDisk);
    });

    it('serves the app script as JavaScript that parses and reads the JSON endpoints', async () => {
      const res = await request(t.server).get(DASHBOARD_SCRIPT_PATH).expect(200).expect('Content-Type', /^text\/javascript/);
      // Throws on a syntax error, e.g. an escape mangled by the TS string that embeds the script.
      expect(() => new vm.Script(res.text, { filename: 'app.js' })).not.toThrow();
      for (const endpoint of ["'/lines'", "'/alerts?state=open'", "'/dead-letters?limit='", "'/aggregates?from='", "'Bearer '"]) {
        expect(res.text).toContain(endpoint);
      }
    });

    it('leaves the dashboard out of the OpenAPI document', async () => {
      const res = await request(t.server).get('/docs-json').expect(200);
      const paths = Object.keys(res.body.paths);
      expect(paths).toContain('/lines');
      expect(paths.filter((p) => p === '/' || p.startsWith('/dashboard'))).toEqual([]);
    });
  });

  describe('with API_TOKEN set', () => {
    let t: ApiTestApp;
    beforeAll(async () => {
      t = await startApiTestApp({ env: { HOST: '0.0.0.0', API_TOKEN: TOKEN } });
    });
    afterAll(async () => {
      await t.close();
    });

    it.each(['/', '/dashboard', DASHBOARD_SCRIPT_PATH, CHART_LIBRARY_PATH])('serves %s without a token', async (url) => {
      await request(t.server).get(url).expect(200);
    });

    it('still refuses the data without a token, and serves it with one (what the page sends)', async () => {
      await request(t.server).get('/lines').expect(401);
      const res = await request(t.server).get('/lines').set('Authorization', `Bearer ${TOKEN}`).expect(200);
      expect(res.body.lines.length).toBeGreaterThan(0);
    });
  });
});
