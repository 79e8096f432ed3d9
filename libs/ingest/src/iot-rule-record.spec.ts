import { decodeIotRuleRecord, toIotRuleRecord } from './iot-rule-record';

const AT = Date.parse('2026-11-29T06:00:00Z');

describe('decodeIotRuleRecord', () => {
  it("gives back the message the rule wrote: its exact bytes (not JSON, not UTF-8 included), its topic and IoT Core's receive time", () => {
    for (const bytes of [Buffer.from('{"deviceId":"m1","ts":1,"voltage":120}'), Buffer.from('not json'), Buffer.from([0xff, 0xfe, 0x00, 0x7b]), Buffer.alloc(0)]) {
      const decoded = decodeIotRuleRecord(toIotRuleRecord('line/L07/SmartMeterData', bytes, AT), 'L07', AT + 5);
      expect(decoded).toEqual({ ok: true, message: { topic: 'line/L07/SmartMeterData', payload: bytes, receivedAt: AT } });
    }
  });

  it('reads the JSON the rules engine writes for the deployed SQL (field order and extra fields do not matter)', () => {
    const data = Buffer.from(`{"receivedAt":${AT},"topic":"line/L01/SmartMeterData","payload":"eyJ2IjoxfQ==","extra":true}`);
    expect(decodeIotRuleRecord(data, 'L01', 0)).toEqual({ ok: true, message: { topic: 'line/L01/SmartMeterData', payload: Buffer.from('{"v":1}'), receivedAt: AT } });
  });

  it('refuses a record that is not the rule shape, keeping its bytes and saying what is wrong', () => {
    const cases: [string, string][] = [
      ['{"deviceId":"m1","voltage":120}', 'payload must be a base64 string'],
      ['plain text', 'not JSON'],
      ['[1,2]', 'not a JSON object'],
      [`{"payload":"%%%","topic":"line/L01/SmartMeterData","receivedAt":${AT}}`, 'payload is not standard base64'],
      [`{"payload":"eyJ2IjoxfQ","topic":"line/L01/SmartMeterData","receivedAt":${AT}}`, 'payload is not standard base64'],
      [`{"payload":"eyJ2IjoxfQ==","receivedAt":${AT}}`, 'topic must be a string'],
      ['{"payload":"eyJ2IjoxfQ==","topic":"line/L01/SmartMeterData"}', 'receivedAt must be epoch milliseconds'],
      ['{"payload":"eyJ2IjoxfQ==","topic":"line/L01/SmartMeterData","receivedAt":"2026-11-29"}', 'receivedAt must be epoch milliseconds'],
      ['{"payload":"eyJ2IjoxfQ==","topic":"line/L01/SmartMeterData","receivedAt":1764396000}', 'receivedAt must be epoch milliseconds'],
      [`{"payload":"eyJ2IjoxfQ==","topic":"line/L01/SmartMeterData","receivedAt":${AT}.5}`, 'receivedAt must be epoch milliseconds'],
    ];
    for (const [text, reason] of cases) {
      const decoded = decodeIotRuleRecord(Buffer.from(text), 'L01', AT + 7);
      expect([text, decoded.ok]).toEqual([text, false]);
      expect(decoded.message.payload.toString()).toBe(text);
      expect(decoded.message.receivedAt).toBe(AT + 7);
      expect(decoded.message.topic).toBe('(raw record, partition key "L01")');
      expect(decoded.message.rejection?.message).toContain('not an IoT rule record');
      expect([text, decoded.message.rejection?.message]).toEqual([text, expect.stringContaining(reason)]);
    }
  });

  it('never throws, whatever the bytes', () => {
    for (const data of [Buffer.from('['.repeat(100_000)), Buffer.from([0xc3, 0x28]), Buffer.from('{"payload":null}'), Buffer.from('null')]) {
      expect(decodeIotRuleRecord(data, '', 1).ok).toBe(false);
    }
  });
});
