import * as path from 'node:path';
import { ConfigError, isLoopback, loadConfig } from './config';

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
});

describe('isLoopback', () => {
  it('tells loopback from the network', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].map(isLoopback)).toEqual([true, true, true, true]);
    expect(['0.0.0.0', '::', '10.0.0.5'].map(isLoopback)).toEqual([false, false, false]);
  });
});
