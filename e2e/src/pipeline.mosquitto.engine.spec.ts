import { execFileSync } from 'node:child_process';
import { makeTempDir, PipelineProcesses, waitFor } from '@meterstream/test-harness';
import { mosquitto, MOSQUITTO_URL } from './mosquitto';
import { describePipeline } from './pipeline-suite';

// The same end-to-end suite as with aedes, through Mosquitto from Debian.
describePipeline('Mosquitto', mosquitto, { bridge: true });

describe('a reading published by hand with mosquitto_pub', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let pipeline: PipelineProcesses;
  const { hostname, port } = new URL(MOSQUITTO_URL);
  const pub = (topic: string, message: string) => execFileSync('mosquitto_pub', ['-h', hostname, '-p', port, '-q', '1', '-t', topic, '-m', message]);

  beforeAll(async () => {
    await mosquitto();
    temp = makeTempDir('meterstream-by-hand-');
    pipeline = await PipelineProcesses.start({ mqttUrl: MOSQUITTO_URL, dataDir: temp.dir, env: { MQTT_CLIENT_ID: `by-hand-${Date.now()}` } });
  });
  afterAll(async () => {
    await pipeline?.stop();
    temp?.cleanup();
  });

  it('shows up in the API', async () => {
    const ts = new Date(Date.now() - 60_000).toISOString();
    pub('line/L77/SmartMeterData', JSON.stringify({ deviceId: 'm-by-hand', ts, voltage: 119.6, current: 8.2 }));
    const from = new Date(Date.now() - 10 * 60_000).toISOString();
    const body = await waitFor(
      async () => {
        const res = await fetch(`${pipeline.apiUrl}/lines/L77/readings?from=${from}`);
        if (!res.ok) return undefined;
        const json = (await res.json()) as { readings: { deviceId: string; voltage: number; eventTime: string }[] };
        return json.readings.length > 0 ? json : undefined;
      },
      { what: 'the hand-published reading in /lines/L77/readings' },
    );
    expect(body.readings).toEqual([expect.objectContaining({ deviceId: 'm-by-hand', voltage: 119.6, eventTime: ts })]);
  });

  it('lands in dead-letters with a reason a person can act on when malformed', async () => {
    const raw = '{"deviceId":"m-by-hand","voltage":"high"}';
    pub('line/L77/SmartMeterData', raw);
    const letter = await waitFor(async () => {
      const { deadLetters } = await pipeline.get<{ deadLetters: { payloadText: string; reason: string }[] }>('/dead-letters?limit=50');
      return deadLetters.find((d) => d.payloadText === raw);
    }, { what: 'the malformed message in /dead-letters' });
    expect(letter.reason).toContain('voltage: must be number');
    expect(letter.reason).toContain('ts: is required');
  });
});
