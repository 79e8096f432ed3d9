import request from 'supertest';
import { deadLetterId, readingTopic } from '@meterstream/contracts';
import { BINARY_PAYLOAD, MISSING_VOLTAGE_PAYLOAD, NOW, rejected, startApiTestApp, type ApiTestApp } from '../testing/api-test-app';
import { encodeCursor } from './dead-letter-cursor';

const CURSOR_MESSAGE = 'cursor is not valid; use the nextCursor of a previous page';

describe('GET /dead-letters', () => {
  let t: ApiTestApp;
  beforeAll(async () => {
    t = await startApiTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('lists rejected messages newest first, with the bytes as base64 and, when UTF-8, as text', async () => {
    const res = await request(t.server).get('/dead-letters').expect(200);
    expect(res.body.deadLetters).toEqual([
      {
        id: deadLetterId('meters/L07/data', BINARY_PAYLOAD),
        lineId: '(unknown)',
        deviceId: null,
        topic: 'meters/L07/data',
        reason: '(topic): topic "meters/L07/data" is not line/{lineId}/SmartMeterData',
        errors: [{ field: '(topic)', message: 'topic "meters/L07/data" is not line/{lineId}/SmartMeterData' }],
        payloadBase64: '3q2+7/8=',
        payloadText: null,
        receivedAt: '2026-11-29T05:59:00.000Z',
      },
      {
        id: deadLetterId(readingTopic('L07'), MISSING_VOLTAGE_PAYLOAD),
        lineId: 'L07',
        deviceId: 'm-000009',
        topic: 'line/L07/SmartMeterData',
        reason: 'voltage: is required (volts, a number)',
        errors: [{ field: 'voltage', message: 'is required (volts, a number)' }],
        payloadBase64: MISSING_VOLTAGE_PAYLOAD.toString('base64'),
        payloadText: '{"deviceId":"m-000009","ts":"2026-11-29T05:58:00.000Z"}',
        receivedAt: '2026-11-29T05:58:00.000Z',
      },
    ]);
    expect(res.body.nextCursor).toBeNull();
  });

  it('honours the limit, and the nextCursor of a short page leads to the rest', async () => {
    const first = await request(t.server).get('/dead-letters?limit=1').expect(200);
    expect(first.body.deadLetters.map((d: { topic: string }) => d.topic)).toEqual(['meters/L07/data']);
    expect(first.body.nextCursor).toEqual(expect.stringMatching(/^[A-Za-z0-9_-]+$/));

    const second = await request(t.server).get('/dead-letters').query({ limit: 1, cursor: first.body.nextCursor }).expect(200);
    expect(second.body.deadLetters.map((d: { topic: string }) => d.topic)).toEqual(['line/L07/SmartMeterData']);
    // Exactly the last one: no empty page to fetch after it.
    expect(second.body.nextCursor).toBeNull();
  });

  it('names a bad limit, a bad cursor and an unknown parameter, saying what to send', async () => {
    const cases: [string, string][] = [
      ['/dead-letters?limit=5000', 'limit must be an integer from 1 to 1000, got 5000'],
      ['/dead-letters?limit=0', 'limit must be an integer from 1 to 1000, got 0'],
      ['/dead-letters?limit=ten', 'limit must be an integer from 1 to 1000, got "ten"'],
      ['/dead-letters?cursor=', CURSOR_MESSAGE],
      ['/dead-letters?cursor=not%20a%20cursor', CURSOR_MESSAGE],
      ['/dead-letters?cursor=WzE3OTU5MjgzNDAwMDBd', CURSOR_MESSAGE], // base64url of [1795928340000]: no id
      [`/dead-letters?cursor=${Buffer.from('{"receivedAt":1,"id":"x"}').toString('base64url')}`, CURSOR_MESSAGE],
      [`/dead-letters?cursor=${Buffer.from('[1.5,"dl:x"]').toString('base64url')}`, CURSOR_MESSAGE],
      [`/dead-letters?cursor=${'A'.repeat(600)}`, CURSOR_MESSAGE],
      [`/dead-letters?cursor=${encodeCursor({ receivedAt: NOW, id: 'dl:a' })}&cursor=${encodeCursor({ receivedAt: NOW, id: 'dl:b' })}`, CURSOR_MESSAGE],
      ['/dead-letters?page=2', 'unknown query parameter "page": this endpoint accepts cursor, limit'],
    ];
    for (const [url, message] of cases) {
      const res = await request(t.server).get(url).expect(400);
      expect([url, res.body]).toEqual([url, { statusCode: 400, error: 'Bad Request', message: [message] }]);
    }
  });
});

describe('GET /dead-letters paging', () => {
  // 2,500 letters, four per millisecond: pages of 1000 end inside a millisecond.
  const letters = Array.from({ length: 2500 }, (_, i) => rejected(readingTopic(`L${i % 3}`), Buffer.from(`{"deviceId":"m-${i}"`), NOW - 60_000 + Math.floor(i / 4)));
  let t: ApiTestApp;
  beforeAll(async () => {
    t = await startApiTestApp({ batch: { deadLetters: letters } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('pages past the newest 1000 with nextCursor: every letter once, newest first, ties by id, and no cursor on the last page', async () => {
    const expected = [...letters].sort((a, b) => b.body.receivedAt - a.body.receivedAt || (a.id < b.id ? -1 : 1)).map((l) => l.id);
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const res: request.Response = await request(t.server)
        .get('/dead-letters')
        .query({ limit: 1000, ...(cursor === null ? {} : { cursor }) })
        .expect(200);
      pages.push(res.body.deadLetters.map((d: { id: string }) => d.id));
      cursor = res.body.nextCursor;
    } while (cursor !== null && pages.length < 10);

    expect(pages.map((p) => p.length)).toEqual([1000, 1000, 500]);
    expect(pages.flat()).toEqual(expected);
  });

  it('keeps its place when newer letters arrive between two pages', async () => {
    const first = await request(t.server).get('/dead-letters?limit=3').expect(200);
    await t.readModel.apply({ deadLetters: [rejected('meters/late', Buffer.from('late'), NOW)] });
    const second = await request(t.server).get('/dead-letters').query({ limit: 3, cursor: first.body.nextCursor }).expect(200);
    const ids = [...first.body.deadLetters, ...second.body.deadLetters].map((d: { id: string }) => d.id);
    const expected = [...letters].sort((a, b) => b.body.receivedAt - a.body.receivedAt || (a.id < b.id ? -1 : 1)).map((l) => l.id);
    expect(ids).toEqual(expected.slice(0, 6));
  });
});
