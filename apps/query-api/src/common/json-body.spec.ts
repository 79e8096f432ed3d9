import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { startApiTestApp, type ApiTestApp } from '../testing/api-test-app';
import { MAX_BODY_BYTES, MAX_BODY_DEPTH } from './json-body';

const ACK = '/alerts/uv-L07-1/acknowledge';

function nested(levels: number, inner = '1'): string {
  return '{"a":'.repeat(levels) + inner + '}'.repeat(levels);
}

describe('request bodies', () => {
  let t: ApiTestApp;
  beforeEach(async () => {
    t = await startApiTestApp();
  });
  afterEach(async () => {
    await t.close();
  });

  function post(body: string | Buffer, contentType: string | undefined = 'application/json', headers: Record<string, string> = {}): request.Test {
    const req = request(t.server).post(ACK).set(headers);
    if (contentType !== undefined) req.set('Content-Type', contentType);
    // superagent would JSON-encode a Buffer sent as application/json; bytes must go as they are.
    if (Buffer.isBuffer(body)) req.serialize((bytes: Buffer) => bytes as unknown as string);
    return req.send(body);
  }

  it('refuses a body nested 10,000 levels deep with 400 and the limit, never 500', async () => {
    for (const body of ['['.repeat(10_000) + ']'.repeat(10_000), `{"by":"ana","note":${nested(10_000)}}`]) {
      const res = await post(body);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: `the request body nests objects and arrays more than ${MAX_BODY_DEPTH} levels deep: send at most ${MAX_BODY_DEPTH} levels`,
      });
    }
    expect(await t.log.countSync('alert-commands')).toBe(0);
  });

  it('lets 32 levels through to validation and refuses 33 before it', async () => {
    // The body object is level 1, so the note holds 31 more.
    const atLimit = await post(`{"by":"ana","note":${nested(MAX_BODY_DEPTH - 1)}}`).expect(400);
    expect(atLimit.body.message).toEqual(['note must be a string']);
    expect(await t.log.countSync('alert-commands')).toBe(0);
    const beyond = await post(`{"by":"ana","note":${nested(MAX_BODY_DEPTH)}}`).expect(400);
    expect(beyond.body.message).toMatch(/more than 32 levels deep/);
  });

  it('does not count brackets inside strings, escaped quotes included', async () => {
    const res = await post(JSON.stringify({ by: 'ana', note: `[{"\\"${'[{'.repeat(200)}` })).expect(200);
    expect(res.body.state).toBe('acknowledged');
  });

  it('refuses a 2 MB body with 413 saying the limit, also when it arrives gzipped', async () => {
    const big = JSON.stringify({ by: 'ana', note: 'x'.repeat(2_000_000) });
    const res = await post(big).expect(413);
    expect(res.body).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: `the request body may be at most ${MAX_BODY_BYTES} bytes (64 KiB); this one is ${Buffer.byteLength(big)} bytes`,
    });
    // 2 MB of x compresses to a few KB: the limit applies to what it inflates to.
    const zipped = await post(gzipSync(big), 'application/json', { 'Content-Encoding': 'gzip' }).expect(413);
    expect(zipped.body.message).toMatch(/^the request body may be at most 65536 bytes \(64 KiB\)/);
  });

  it('refuses malformed JSON, and JSON that is not an object, with 400 saying what to send', async () => {
    const malformed = await post('{"by": "ana",').expect(400);
    expect(malformed.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(malformed.body.message).toMatch(/^the request body is not valid JSON \(.+\): send a JSON object such as \{"by": "dispatch-ana"\}$/);

    for (const [body, got] of [['[{"by":"ana"}]', 'an array'], ['"ana"', 'a string'], ['42', 'a number'], ['null', 'null']]) {
      const res = await post(body).expect(400);
      expect(res.body.message).toBe(`the request body must be a JSON object such as {"by": "dispatch-ana"}, got ${got}`);
    }
    const notUtf8 = await post(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])).expect(400);
    expect(notUtf8.body.message).toBe('the request body is not valid UTF-8: send UTF-8 encoded JSON');
  });

  it('refuses a body that is not JSON with 415 naming the content type to send', async () => {
    const cases: [string | undefined, string][] = [
      ['text/plain', 'the request body must be JSON: send Content-Type: application/json, not "text/plain"'],
      // What `curl -d '{"by":"ana"}'` sends unless told otherwise.
      ['application/x-www-form-urlencoded', 'the request body must be JSON: send Content-Type: application/json, not "application/x-www-form-urlencoded"'],
      ['application/json; charset=utf-16', 'the request body must be UTF-8 JSON: send Content-Type: application/json; charset=utf-8, not charset=utf-16'],
    ];
    for (const [type, message] of cases) {
      const res = await post('{"by":"ana"}', type).expect(415);
      expect(res.body).toEqual({ statusCode: 415, error: 'Unsupported Media Type', message });
    }
    const bytes = await request(t.server).post(ACK).set('Content-Type', 'application/octet-stream').send(Buffer.from('{"by":"ana"}')).expect(415);
    expect(bytes.body.message).toMatch(/send Content-Type: application\/json/);
    expect(await t.log.countSync('alert-commands')).toBe(0);
  });

  it('names an unknown body field as a field, not a query parameter', async () => {
    const res = await post('{"by":"ana","urgent":true}').expect(400);
    expect(res.body.message).toEqual(['unknown field "urgent" in the body: this endpoint accepts by, note']);
  });

  it('never answers 500 to a bad body on any route', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    // The body is read before routing, so even a route without a body (or no route) says why.
    for (const [method, url] of [['post', '/alerts/nope/acknowledge'], ['post', '/lines'], ['get', '/lines'], ['get', '/no-such-route']] as const) {
      const res = await request(t.server)[method](url).set('Content-Type', 'application/json').send(deep);
      expect([method, url, res.status, res.body.message]).toEqual([method, url, 400, expect.stringMatching(/more than 32 levels deep/)]);
    }
  });

  it('still acknowledges with a normal JSON body, charset and all', async () => {
    const res = await post(JSON.stringify({ by: 'dispatch-ana', note: 'crew on the way' }), 'application/json; charset=UTF-8').expect(200);
    expect(res.body).toMatchObject({ alertId: 'uv-L07-1', state: 'acknowledged', acknowledgedBy: 'dispatch-ana', note: 'crew on the way' });
    expect(await t.log.countSync('alert-commands')).toBe(1);
  });
});
