import request from 'supertest';
import { deadLetterId, readingTopic } from '@meterstream/contracts';
import { BINARY_PAYLOAD, MISSING_VOLTAGE_PAYLOAD, startApiTestApp, type ApiTestApp } from '../testing/api-test-app';

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
  });

  it('honours the limit and names a bad one', async () => {
    const res = await request(t.server).get('/dead-letters?limit=1').expect(200);
    expect(res.body.deadLetters.map((d: { topic: string }) => d.topic)).toEqual(['meters/L07/data']);

    const bad = await request(t.server).get('/dead-letters?limit=5000').expect(400);
    expect(bad.body.message).toEqual(['limit must be an integer from 1 to 1000, got 5000']);
  });
});
