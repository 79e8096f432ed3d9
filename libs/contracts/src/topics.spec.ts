import Ajv from 'ajv';
import { deadLetter } from './parse-reading';
import readingSchema from './reading.v1.schema.json';
import { isValidLineId, lineIdFromTopic, parseReadingTopic, readingTopic } from './topics';

describe('readings topics', () => {
  it('reads the line id of line/{lineId}/SmartMeterData', () => {
    expect(lineIdFromTopic('line/L07/SmartMeterData')).toBe('L07');
    expect(lineIdFromTopic(readingTopic(`a_-Z9${'x'.repeat(59)}`))).toBe(`a_-Z9${'x'.repeat(59)}`);
  });

  it.each([
    ['line//SmartMeterData', 'empty line id'],
    ['line/a/b/SmartMeterData', 'has 4 levels, not 3'],
    ['line/L07/SmartMeterData/', 'has 4 levels, not 3'],
    ['line/L07', 'has 2 levels, not 3'],
    ['line/L07/smartmeterdata', 'ends in "smartmeterdata", not SmartMeterData'],
    ['line/L\u000007/SmartMeterData', 'line id "L\\u000007" is not valid'],
    ['line/%00/SmartMeterData', 'line id "%00" is not valid'],
    ['line/../SmartMeterData', 'line id ".." is not valid'],
    ['line/+/SmartMeterData', 'line id "+" is not valid'],
    ['line/L 7/SmartMeterData', 'line id "L 7" is not valid'],
    ['line/\u202E70L/SmartMeterData', 'line id "\\u202e70L" is not valid'],
    [`line/${'a'.repeat(5000)}/SmartMeterData`, 'line id is 5000 characters long'],
    [`line/${'a'.repeat(65)}/SmartMeterData`, 'line id is 65 characters long'],
    ['meters/L07/data', 'is not line/{lineId}/SmartMeterData'],
    ['', 'is not line/{lineId}/SmartMeterData'],
  ])('rejects %j, saying why (%s)', (topic, why) => {
    const parsed = parseReadingTopic(topic);
    expect(parsed).toEqual({ ok: false, reason: expect.stringContaining(why) });
    expect(lineIdFromTopic(topic)).toBeUndefined();
    // The reason quotes at most a short, escaped piece of the topic.
    expect((parsed as { reason: string }).reason.length).toBeLessThan(200);
    expect(deadLetter(topic, Buffer.from('{}'), [{ field: '(topic)', message: 'x' }], 0).lineId).toBe('(unknown)');
  });

  it('applies exactly the published schema’s lineId rule', () => {
    const ajv = new Ajv({ strict: false });
    const lineIdRule = ajv.compile(readingSchema.definitions.reading.properties.lineId);
    const samples = ['', 'a', 'L07', 'a-b_c', 'x'.repeat(64), 'x'.repeat(65), 'a.b', 'a/b', 'é', 'a\n', '\u202E', '0', '-', '_'];
    for (const id of samples) expect([id, isValidLineId(id)]).toEqual([id, lineIdRule(id)]);
  });
});
