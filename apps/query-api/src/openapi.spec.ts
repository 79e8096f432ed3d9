import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from './testing/api-test-app';

/**
 * The published OpenAPI document against what the server does: every claim checked here is also
 * tried on the running app, so the document cannot drift from the validation, the guard or the
 * content types.
 */

const TOKEN = '5d0c7a1e9b3f4a2c8e6d1b0a9f8e7d6c';

interface Schema {
  type?: string;
  nullable?: boolean;
  allOf?: Schema[];
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  enum?: string[];
  example?: unknown;
  $ref?: string;
}
interface Parameter {
  name: string;
  in: 'query' | 'path';
  schema: Schema;
}
interface Operation {
  parameters: Parameter[];
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
  security?: Record<string, string[]>[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties: Record<string, Schema>; required?: string[] }> };
}

describe('the OpenAPI document matches what the server enforces', () => {
  let t: ApiTestApp;
  let doc: Document;
  let operations: { method: 'get' | 'post'; path: string; op: Operation }[];

  beforeAll(async () => {
    t = await startApiTestApp({ env: { API_TOKEN: TOKEN } });
    doc = (await request(t.server).get('/docs-json').expect(200)).body as Document;
    operations = Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method: method as 'get' | 'post', path, op })));
  });
  afterAll(async () => {
    await t.close();
  });

  /** The path with each parameter replaced by its documented example (ids the test data has). */
  function url(path: string, op: Operation): string {
    return path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const example = op.parameters.find((p) => p.in === 'path' && p.name === name)?.schema.example;
      if (typeof example !== 'string') throw new Error(`${path}: path parameter ${name} has no example`);
      return encodeURIComponent(example);
    });
  }

  /** With the token unless `token` is null. */
  function send(method: 'get' | 'post', target: string, query: Record<string, string> = {}, token: string | null = TOKEN): request.Test {
    const req = request(t.server)[method](target).query(query);
    return token === null ? req : req.set('Authorization', `Bearer ${token}`);
  }

  it('documents /metrics as Prometheus text, and its 401 as the JSON error', async () => {
    const metrics = doc.paths['/metrics'].get;
    expect(Object.keys(metrics.responses['200'].content ?? {})).toEqual(['text/plain']);
    expect(metrics.responses['200'].content?.['text/plain'].schema.type).toBe('string');
    expect(metrics.responses['401'].content?.['application/json'].schema.$ref).toBe('#/components/schemas/ErrorResponseDto');

    const served = await send('get', '/metrics').expect(200);
    expect(served.headers['content-type'].split(';')[0]).toBe('text/plain');
    const refused = await send('get', '/metrics', {}, null).expect(401);
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
  });

  it('documents bearer security and a 401 on exactly the routes that refuse a request without the token', async () => {
    const publicRoutes: string[] = [];
    for (const { method, path, op } of operations) {
      const res = await send(method, url(path, op), {}, null);
      const route = `${method.toUpperCase()} ${path}`;
      if (res.status === 401) {
        expect([route, op.security, Object.keys(op.responses)]).toEqual([route, [{ bearer: [] }], expect.arrayContaining(['401'])]);
        expect([route, op.responses['401'].content?.['application/json'].schema.$ref]).toEqual([route, '#/components/schemas/ErrorResponseDto']);
      } else {
        expect([route, op.security, Object.keys(op.responses)]).toEqual([route, undefined, expect.not.arrayContaining(['401'])]);
        publicRoutes.push(route);
      }
    }
    expect(publicRoutes).toEqual(['GET /health', 'GET /ready']);
  });

  it('declares exactly the query parameters each route accepts', async () => {
    const dead = doc.paths['/dead-letters'].get.parameters;
    expect(dead.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(['cursor', 'limit']);

    for (const { method, path, op } of operations.filter((o) => o.method === 'get')) {
      const declared = op.parameters.filter((p) => p.in === 'query').map((p) => p.name).sort();
      const res = await send(method, url(path, op), { undeclared: '1' });
      const route = `GET ${path}`;
      if (res.status !== 400) {
        // A route without a query DTO ignores parameters; it must then declare none.
        expect([route, res.status, declared]).toEqual([route, 200, []]);
        continue;
      }
      const [message] = res.body.message as string[];
      const accepted = /this endpoint accepts (.+)$/.exec(message)?.[1].split(', ') ?? [];
      expect([route, accepted]).toEqual([route, declared]);
      // And each one declared is taken: not refused as unknown whatever its value.
      for (const name of declared) {
        const given = await send(method, url(path, op), { [name]: 'x' });
        expect([route, name, JSON.stringify(given.body)]).toEqual([route, name, expect.not.stringContaining('unknown query parameter')]);
      }
    }
  });

  it('documents time parameters as date-time strings, and the server reads their examples and refuses what is not a time', async () => {
    let checked = 0;
    for (const { method, path, op } of operations) {
      for (const p of op.parameters.filter((q) => q.name === 'from' || q.name === 'to')) {
        expect([path, p.name, p.schema.type, p.schema.format]).toEqual([path, p.name, 'string', 'date-time']);
        const bad = await send(method, url(path, op), { [p.name]: 'yesterday' }).expect(400);
        expect(bad.body.message[0]).toMatch(new RegExp(`^${p.name} must be an ISO-8601 time`));
        checked++;
      }
      const from = op.parameters.find((q) => q.name === 'from')?.schema.example;
      const to = op.parameters.find((q) => q.name === 'to')?.schema.example;
      if (typeof from === 'string' && typeof to === 'string') await send(method, url(path, op), { from, to }).expect(200);
    }
    expect(checked).toBe(4);
  });

  it('documents the length and range bounds the server enforces on every query parameter', async () => {
    let checked = 0;
    for (const { method, path, op } of operations) {
      for (const p of op.parameters.filter((q) => q.in === 'query')) {
        const { type, minLength, maxLength, minimum, maximum } = p.schema;
        const outside: string[] = [];
        if (type === 'string' && p.schema.enum === undefined && p.schema.format === undefined) {
          // Every free-form string parameter states its bounds; both just outside are refused.
          expect([path, p.name, minLength, typeof maxLength]).toEqual([path, p.name, 1, 'number']);
          outside.push('', 'a'.repeat((maxLength ?? 0) + 1));
        }
        if (type === 'integer') {
          expect([path, p.name, typeof minimum, typeof maximum]).toEqual([path, p.name, 'number', 'number']);
          outside.push(String((minimum ?? 0) - 1), String((maximum ?? 0) + 1));
        }
        for (const value of outside) {
          const res = await send(method, url(path, op), { [p.name]: value });
          expect([path, p.name, value.length > 20 ? `${value.length} chars` : value, res.status]).toEqual([path, p.name, value.length > 20 ? `${value.length} chars` : value, 400]);
          expect(res.body.message[0]).toMatch(new RegExp(`^${p.name} `));
          checked++;
        }
      }
      for (const p of op.parameters.filter((q) => q.in === 'path')) {
        // An empty path segment matches no route, so a path parameter is at least one character.
        expect([path, p.name, p.schema.type, p.schema.minLength]).toEqual([path, p.name, 'string', 1]);
      }
    }
    // lineId, deviceId, cursor and three limits, two values each.
    expect(checked).toBe(12);
  });

  it('documents exactly the fields a line summary has, delivery delay included', async () => {
    const { lines } = (await send('get', '/lines').expect(200)).body as { lines: Record<string, unknown>[] };
    const summary = doc.components.schemas.LineSummaryDto;
    expect(Object.keys(summary.properties).sort()).toEqual(Object.keys(lines[0]).sort());
    expect(summary.required?.sort()).toEqual(Object.keys(lines[0]).sort());
    expect(summary.properties.deliveryDelay).toMatchObject({ nullable: true, allOf: [{ $ref: '#/components/schemas/DeliveryDelayDto' }] });
    expect(Object.keys(doc.components.schemas.DeliveryDelayDto.properties).sort()).toEqual(['ewmaMs', 'maxMs', 'measuredAt']);
    expect(doc.components.schemas.DeliveryDelayDto.properties.measuredAt).toMatchObject({ type: 'string', format: 'date-time' });
  });

  it('documents the acknowledgement body with the bounds the server enforces', async () => {
    const op = doc.paths['/alerts/{alertId}/acknowledge'].post;
    expect(Object.keys(op.requestBody?.content ?? {})).toEqual(['application/json']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['400', '401', '413', '415']));
    const body = doc.components.schemas.AcknowledgeAlertDto;
    expect(body.required).toEqual(['by']);
    expect(body.properties.by).toMatchObject({ type: 'string', minLength: 1, maxLength: 100 });
    expect(body.properties.note).toMatchObject({ type: 'string', maxLength: 500 });

    const target = url('/alerts/{alertId}/acknowledge', op);
    for (const refused of [{ by: '' }, { by: 'a'.repeat(101) }, { by: 'ana', note: 'n'.repeat(501) }]) {
      await send('post', target).send(refused).expect(400);
    }
    await send('post', target).send({ by: 'a'.repeat(100), note: 'n'.repeat(500) }).expect(200);
  });

  it('documents the close and reopen bodies with the bounds the server enforces, and the 409 of each command', async () => {
    const close = doc.paths['/alerts/{alertId}/close'].post;
    const body = doc.components.schemas.CloseAlertDto;
    expect(body.required?.sort()).toEqual(['by', 'reason']);
    expect(body.properties.reason).toMatchObject({ type: 'string', minLength: 1, maxLength: 500 });
    expect(Object.keys(doc.components.schemas.ReopenAlertDto.properties).sort()).toEqual(['by', 'note']);
    for (const path of ['/alerts/{alertId}/acknowledge', '/alerts/{alertId}/close', '/alerts/{alertId}/reopen']) {
      expect([path, Object.keys(doc.paths[path].post.responses).sort()]).toEqual([path, ['200', '400', '401', '404', '409', '413', '415']]);
    }
    const target = url('/alerts/{alertId}/close', close);
    for (const refused of [{ by: 'ana' }, { by: 'ana', reason: '' }, { by: 'ana', reason: 'r'.repeat(501) }, { by: 'ana', reason: 'x', note: 'not taken' }]) {
      await send('post', target).send(refused).expect(400);
    }
    await send('post', target).send({ by: 'ana', reason: 'r'.repeat(500) }).expect(200);
  });

  it('documents exactly the fields an alert has, the acknowledgement and the closure in fields of their own', async () => {
    const { alerts } = (await send('get', '/alerts').expect(200)).body as { alerts: Record<string, unknown>[] };
    const schema = doc.components.schemas.AlertDto;
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(alerts[0]).sort());
    expect(schema.required?.sort()).toEqual(Object.keys(alerts[0]).sort());
    for (const field of ['acknowledgedBy', 'acknowledgedAt', 'note', 'closedBy', 'closedAt', 'reason']) expect([field, schema.properties[field].nullable]).toEqual([field, true]);
    expect(schema.properties.acknowledgedAt).toMatchObject({ type: 'string', format: 'date-time' });
    expect(schema.properties.closedAt).toMatchObject({ type: 'string', format: 'date-time' });
    expect(schema.properties.state.enum).toEqual(['raised', 'acknowledged', 'cleared', 'closed']);
  });
});
