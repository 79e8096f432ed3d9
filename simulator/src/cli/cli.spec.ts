import { makeTempDir } from '@meterstream/test-harness';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCliArgs } from './cli-options';
import { formatDuration, parseDuration, parseStart } from './time-arguments';

const NOW = Date.parse('2026-11-30T12:34:56.789Z');
const argv = (...args: string[]) => ['node', 'main.js', ...args];

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['15s', 15_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['0', 0],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it('accepts forever only where it makes sense', () => {
    expect(parseDuration('forever', { allowForever: true })).toBe(Infinity);
    expect(() => parseDuration('forever')).toThrow(/not a duration/);
  });

  it.each(['15', '1x', 'h', '1h 2', '', '-5s'])('rejects %j', (text) => expect(() => parseDuration(text)).toThrow(/not a duration/));

  it('round-trips through formatDuration', () => {
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(15_000)).toBe('15s');
    expect(formatDuration(Infinity)).toBe('forever');
  });
});

describe('parseStart', () => {
  it('understands now, now±duration (aligned to the interval), ISO-8601 and epoch ms', () => {
    expect(parseStart('now', NOW)).toBe(NOW);
    expect(parseStart('now-1h', NOW, 15_000)).toBe(Date.parse('2026-11-30T11:34:45.000Z'));
    expect(parseStart('now+5m', NOW, 1)).toBe(NOW + 300_000);
    expect(parseStart('2026-11-29T05:00:00Z', NOW)).toBe(Date.parse('2026-11-29T05:00:00Z'));
    expect(parseStart('2026-11-29T07:00:00+02:00', NOW)).toBe(Date.parse('2026-11-29T05:00:00Z'));
    expect(parseStart('1795996800000', NOW)).toBe(1795996800000);
  });

  it('refuses a time without a zone, which would depend on the machine', () => {
    expect(() => parseStart('2026-11-29T05:00:00', NOW)).toThrow(/time zone/);
    expect(() => parseStart('yesterday', NOW)).toThrow();
  });
});

describe('parseCliArgs', () => {
  it('has defaults for a live run against a local broker', () => {
    const { run, progressEveryMs } = parseCliArgs(argv(), {}, NOW);
    expect(run).toMatchObject({
      brokerUrl: 'mqtt://127.0.0.1:1883',
      lines: 20,
      metersPerLine: 50,
      intervalMs: 15_000,
      seed: 42,
      start: Date.parse('2026-11-30T12:34:45.000Z'),
      durationMs: Infinity,
      speed: 1,
      catchUpToNow: true,
      qos: 1,
      faults: 'demo',
      maxInFlight: 1000,
    });
    expect(run.labelsFile).toBeUndefined();
    expect(run.rate).toBeUndefined();
    expect(progressEveryMs).toBe(5_000);
  });

  it('reads the documented command line', () => {
    const { run } = parseCliArgs(
      argv('--broker', 'mqtt://broker:1884', '--lines', '3', '--meters-per-line', '7', '--interval', '30s', '--seed', '9', '--start', '2026-11-29T00:00:00Z', '--duration', '24h', '--speed', '60', '--qos', '0', '--faults', 'none', '--labels', 'data/labels.jsonl', '--rate', '500', '--no-catch-up'),
      {},
      NOW,
    );
    expect(run).toMatchObject({
      brokerUrl: 'mqtt://broker:1884',
      lines: 3,
      metersPerLine: 7,
      intervalMs: 30_000,
      seed: 9,
      start: Date.parse('2026-11-29T00:00:00Z'),
      durationMs: 86_400_000,
      speed: 60,
      qos: 0,
      faults: 'none',
      labelsFile: 'data/labels.jsonl',
      rate: 500,
      catchUpToNow: false,
    });
  });

  it('takes the broker and credentials from the environment', () => {
    const { run } = parseCliArgs(argv(), { MQTT_HOST: '10.0.0.5', MQTT_PORT: '8883', MQTT_USERNAME: 'sim', MQTT_PASSWORD: 's3cret' }, NOW);
    expect(run).toMatchObject({ brokerUrl: 'mqtt://10.0.0.5:8883', username: 'sim', password: 's3cret' });
    expect(parseCliArgs(argv(), { MQTT_URL: 'mqtts://iot:8883' }, NOW).run.brokerUrl).toBe('mqtts://iot:8883');
  });

  it('loads an explicit fault schedule from a JSON file', () => {
    const temp = makeTempDir();
    try {
      const file = join(temp.dir, 'faults.json');
      const specs = [{ kind: 'sag', lineId: 'L01', start: '2026-11-29T18:00:00Z', end: '2026-11-29T18:10:00Z' }];
      writeFileSync(file, JSON.stringify(specs));
      expect(parseCliArgs(argv('--faults', file), {}, NOW).run.faults).toEqual(specs);
      writeFileSync(file, '{"kind":"sag"}');
      expect(() => parseCliArgs(argv('--faults', file), {}, NOW)).toThrow(/JSON array/);
      expect(() => parseCliArgs(argv('--faults', join(temp.dir, 'missing.json')), {}, NOW)).toThrow(/not demo, none or a readable JSON file/);
    } finally {
      temp.cleanup();
    }
  });

  it('rejects bad values with a reason', () => {
    const parse = (...args: string[]) => () => {
      // commander prints its own errors; keep the test output clean
      const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        return parseCliArgs(argv(...args), {}, NOW);
      } finally {
        spy.mockRestore();
      }
    };
    expect(parse('--lines', '0')).toThrow(/at least 1/);
    expect(parse('--interval', '15')).toThrow(/not a duration/);
    expect(parse('--qos', '2')).toThrow(/Allowed choices/);
    expect(parse('--speed', '-1')).toThrow(/>= 0/);
    expect(parse('--start', 'yesterday')).toThrow(/not a start time/);
  });
});
