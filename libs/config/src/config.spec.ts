import * as path from 'node:path';
import { ConfigError, isLoopback, loadConfig } from './config';
import {
  alertChannelsNamespace,
  allNamespaces,
  checkNamespaces,
  apiNamespace,
  ingestNamespace,
  ingestSourceNamespace,
  modelRegistryNamespace,
  mqttNamespace,
  processorNamespace,
  readModelNamespace,
  streamNamespace,
  timeSeriesNamespace,
  type StreamConfig,
} from './namespaces';

describe('loadConfig', () => {
  it('fills the embedded defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 3000, HOST: '127.0.0.1', MQTT_PORT: 1883, WINDOW_SIZE_MS: 60_000, PER_METER_WINDOWS: false, VOLTAGE_LOW: 114, VOLTAGE_HIGH: 126, LOG_SYNC: 'full', READING_RETENTION_HOURS: 168 });
    expect(c.WINDOW_HOP_MS).toBeUndefined();
    expect(c.databaseFile).toBe(path.resolve('./data/meterstream.db'));
  });

  it('reads and converts the environment', () => {
    const c = loadConfig({ PORT: '8080', WINDOW_SIZE_MS: '300000', WINDOW_HOP_MS: '60000', PER_METER_WINDOWS: 'true', API_TOKEN: '', DATA_DIR: '/srv/ms' });
    expect(c).toMatchObject({ PORT: 8080, WINDOW_SIZE_MS: 300_000, WINDOW_HOP_MS: 60_000, PER_METER_WINDOWS: true, API_TOKEN: undefined, dataDir: '/srv/ms' });
  });

  it('names every bad variable and what is wrong with it', () => {
    expect(() => loadConfig({ PORT: 'eighty', LOG_SYNC: 'sometimes', PER_METER_WINDOWS: 'yes' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty', LOG_SYNC: 'sometimes' })).toThrow(/PORT: .*\n\s+LOG_SYNC: /);
    expect(() => loadConfig({ VOLTAGE_LOW: '130' })).toThrow('VOLTAGE_LOW: VOLTAGE_LOW must be below VOLTAGE_HIGH');
    expect(() => loadConfig({ WINDOW_SIZE_MS: '60000', WINDOW_HOP_MS: '25000' })).toThrow('WINDOW_HOP_MS must divide WINDOW_SIZE_MS');
  });

  it('reads per-line timing as JSON and names what is wrong with it', () => {
    expect(loadConfig({}).LINE_TIMING).toEqual([]);
    const rules = [{ match: 'HE1-*', outOfOrdernessMs: 900_000, idleTimeoutMs: 1_200_000 }];
    expect(loadConfig({ LINE_TIMING: JSON.stringify(rules) }).LINE_TIMING).toEqual(rules);
    expect(() => loadConfig({ LINE_TIMING: '{"match":' })).toThrow(/LINE_TIMING: must be a JSON array like/);
    expect(() => loadConfig({ LINE_TIMING: '[{"match":"L1","outOfOrdernesMs":5}]' })).toThrow(/LINE_TIMING: .*outOfOrdernesMs/);
    expect(() => loadConfig({ LINE_TIMING: '[{"match":"HE*-L1"}]' })).toThrow(/LINE_TIMING: .*0\.match: must be a line id, or a prefix followed by one \* at the end/);
    expect(loadConfig({ LINE_TIMING: '[{"match":"*"},{"match":"HE1-*"}]' }).LINE_TIMING).toEqual([{ match: '*' }, { match: 'HE1-*' }]);
    expect(() => loadConfig({ EARLIEST_EVENT_TIME: 'yesterday' })).toThrow(/EARLIEST_EVENT_TIME: must be an ISO-8601 date-time/);
  });
});

describe('settings checked at start-up (issue 13): each names the variable and what to do', () => {
  it.each<[string, NodeJS.ProcessEnv, RegExp]>([
    ['a port beyond 65535', { PORT: '99999' }, /^invalid configuration:\n {2}PORT: must be a TCP port number, 0–65535 \(0: any free port\)$/],
    ['a negative MQTT port', { MQTT_PORT: '-1' }, /MQTT_PORT: must be a TCP port number/],
    ['the webhook channel without its URL', { ALERT_CHANNELS: 'webhook', ALERT_WEBHOOK_SECRET: 's' }, /ALERT_WEBHOOK_URL: ALERT_CHANNELS includes webhook, so ALERT_WEBHOOK_URL must be set to the http\(s\) URL/],
    ['the webhook channel without its secret', { ALERT_CHANNELS: 'mqtt,webhook', ALERT_WEBHOOK_URL: 'https://ops.example.com/hook' }, /ALERT_WEBHOOK_SECRET: ALERT_CHANNELS includes webhook, so ALERT_WEBHOOK_SECRET must be set/],
    ['a webhook URL that is not http(s)', { ALERT_CHANNELS: 'webhook', ALERT_WEBHOOK_URL: 'ftp://x', ALERT_WEBHOOK_SECRET: 's' }, /ALERT_WEBHOOK_URL: must be an http\(s\) URL/],
    ['the sns channel without a topic', { ALERT_CHANNELS: 'sns' }, /SNS_TOPIC_ARN: ALERT_CHANNELS includes sns, so SNS_TOPIC_ARN must be set/],
    ['an unknown channel', { ALERT_CHANNELS: 'mqtt,pager' }, /ALERT_CHANNELS: unknown alert channel "pager": use a comma-separated list of mqtt, webhook, sns/],
    ['a channel twice', { ALERT_CHANNELS: 'mqtt, mqtt' }, /ALERT_CHANNELS: lists "mqtt" twice/],
  ])('refuses %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('refuses the API on the network without a token, in the services (npm start checks them all), not in the tools', () => {
    const message = /API_TOKEN: a HOST beyond loopback serves the query API to the network, so API_TOKEN must be set/;
    expect(() => apiNamespace.load({ HOST: '0.0.0.0' })).toThrow(message);
    expect(() => checkNamespaces(allNamespaces, { HOST: '0.0.0.0' })).toThrow(message);
    // The image sets HOST=0.0.0.0 for every service: replay or retrain in a processor's container need no API token.
    expect(loadConfig({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(() => processorNamespace.load({ HOST: '0.0.0.0' })).not.toThrow();
  });

  it('accepts what those rules allow', () => {
    expect(loadConfig({ PORT: '65535', MQTT_PORT: '0' })).toMatchObject({ PORT: 65535, MQTT_PORT: 0 });
    expect(loadConfig({ ALERT_CHANNELS: 'webhook', ALERT_WEBHOOK_URL: 'https://ops.example.com/hook', ALERT_WEBHOOK_SECRET: 's' }).ALERT_CHANNELS).toBe('webhook');
    expect(loadConfig({ ALERT_CHANNELS: '' }).ALERT_CHANNELS).toBe('');
    expect(loadConfig({ HOST: '0.0.0.0', API_TOKEN: 'a-long-secret' }).HOST).toBe('0.0.0.0');
  });

  it('checks a service’s namespaces together: every bad variable in one message', () => {
    const env = { PORT: '99999', ALERT_CHANNELS: 'pager', WINDOW_SIZE_MS: 'a minute' };
    // One namespace at a time, the first failure hides the others.
    expect(() => apiNamespace.load(env)).toThrow(/PORT/);
    expect(() => apiNamespace.load(env)).not.toThrow(/ALERT_CHANNELS/);
    let message = '';
    try {
      checkNamespaces([apiNamespace, alertChannelsNamespace, processorNamespace], env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message.split('\n').slice(1).map((line) => line.trim().split(':')[0]).sort()).toEqual(['ALERT_CHANNELS', 'PORT', 'WINDOW_SIZE_MS']);
    expect(() => checkNamespaces([apiNamespace, alertChannelsNamespace], {})).not.toThrow();
  });
});

describe('isLoopback', () => {
  it('tells loopback from the network', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.5'].map(isLoopback)).toEqual([false, false, false]);
  });
});

describe('configuration namespaces', () => {
  it('each reads and validates only its own variables', () => {
    const stream = streamNamespace.load({ STREAM_BACKEND: 'kafka', KAFKA_BROKERS: 'a:9092,b:9092', DATA_DIR: '/srv/ms', PORT: 'eighty' });
    expect(stream).toMatchObject({ STREAM_BACKEND: 'kafka', KAFKA_BROKERS: 'a:9092,b:9092', STREAM_PARTITIONS: 8, databaseFile: '/srv/ms/meterstream.db' });
    expect(stream).not.toHaveProperty('PORT');
    expect(() => apiNamespace.load({ PORT: 'eighty' })).toThrow(/PORT: /);
    expect(modelRegistryNamespace.load({ DATA_DIR: '/srv/ms' })).toEqual({ DATA_DIR: '/srv/ms', MODEL_DIR: undefined, modelDir: '/srv/ms/models' });
  });

  it('apply the rules across variables that they hold', () => {
    expect(() => processorNamespace.load({ VOLTAGE_LOW: '130' })).toThrow('VOLTAGE_LOW: VOLTAGE_LOW must be below VOLTAGE_HIGH');
    expect(() => apiNamespace.load({ VOLTAGE_LOW: '130' })).toThrow(ConfigError);
    expect(() => streamNamespace.load({ KINESIS_LEASE_DURATION_MS: '3000', KINESIS_LEASE_RENEW_MS: '3000' })).toThrow('KINESIS_LEASE_RENEW_MS must be below KINESIS_LEASE_DURATION_MS');
    expect(() => processorNamespace.load({ WINDOW_SIZE_MS: '60000', WINDOW_HOP_MS: '25000' })).toThrow('WINDOW_HOP_MS must divide WINDOW_SIZE_MS');
    expect(() => streamNamespace.load({ VOLTAGE_LOW: '130' })).not.toThrow();
  });

  it("choose the bridge's input: MQTT by default, the IoT rule's raw Kinesis stream only on Kinesis, with clear messages", () => {
    expect(ingestSourceNamespace.load({})).toEqual({ INGEST_SOURCE: 'mqtt', INGEST_RAW_STREAM: 'raw', STREAM_BACKEND: 'embedded', BRIDGE_BATCH_MAX: 2000 });
    expect(ingestSourceNamespace.load({ INGEST_SOURCE: 'kinesis-rule', STREAM_BACKEND: 'kinesis', INGEST_RAW_STREAM: 'iot-raw' })).toMatchObject({ INGEST_SOURCE: 'kinesis-rule', INGEST_RAW_STREAM: 'iot-raw' });
    expect(() => ingestSourceNamespace.load({ INGEST_SOURCE: 'kinesis-rule' })).toThrow('INGEST_SOURCE: INGEST_SOURCE=kinesis-rule reads the raw Kinesis stream the IoT topic rule writes: it needs STREAM_BACKEND=kinesis');
    expect(() => ingestSourceNamespace.load({ INGEST_SOURCE: 'kinesis-rule', STREAM_BACKEND: 'kafka' })).toThrow(/needs STREAM_BACKEND=kinesis/);
    expect(() => ingestSourceNamespace.load({ INGEST_SOURCE: 'kinesis' })).toThrow(/INGEST_SOURCE: must be mqtt \(subscribe to MQTT_URL\) or kinesis-rule/);
    expect(() => ingestSourceNamespace.load({ INGEST_RAW_STREAM: 'raw stream' })).toThrow(/INGEST_RAW_STREAM: must be 1-100 of A-Z a-z 0-9 _ \. -/);
    expect(() => loadConfig({ INGEST_SOURCE: 'kinesis-rule' })).toThrow(/INGEST_SOURCE: .*needs STREAM_BACKEND=kinesis/);
  });

  it('agree with the flat configuration, so a flat Config serves as any namespace', () => {
    const env = { DATA_DIR: '/srv/ms', STREAM_BACKEND: 'kinesis', READ_MODEL_BACKEND: 'elasticsearch', ALERT_CHANNELS: 'mqtt,sns', SNS_TOPIC_ARN: 'arn:x', WINDOW_HOP_MS: '30000' };
    const flat = loadConfig(env);
    const namespaces = [streamNamespace, readModelNamespace, timeSeriesNamespace, alertChannelsNamespace, mqttNamespace, ingestNamespace, ingestSourceNamespace, processorNamespace, modelRegistryNamespace, apiNamespace];
    for (const ns of namespaces) {
      const slice = ns.load(env) as Record<string, unknown>;
      for (const [key, value] of Object.entries(slice)) expect([ns.name, key, (flat as unknown as Record<string, unknown>)[key]]).toEqual([ns.name, key, value]);
    }
    const typed: StreamConfig = flat;
    expect(typed.databaseFile).toBe('/srv/ms/meterstream.db');
  });
});
