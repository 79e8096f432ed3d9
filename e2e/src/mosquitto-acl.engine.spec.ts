import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { freePort, makeTempDir, waitFor } from '@meterstream/test-harness';
import { MOSQUITTO, MOSQUITTO_PASSWD, OwnMosquitto, requireMosquittoBinaries } from './own-mosquitto';

/**
 * The shipped deploy/mosquitto configuration, run as is (only the listener, the file paths and the
 * persistence directory are swapped for temporary ones) in a Mosquitto of this test's own, so the
 * files operators deploy are the files proven here.
 */
const DEPLOY_DIR = path.resolve(__dirname, '../../deploy/mosquitto');

interface Account {
  username: string;
  password: string;
}
// Passwords are made per run: nothing secret is committed, as in a deployment.
const secret = () => randomBytes(12).toString('base64url');
const SERVICE: Account = { username: 'meterstream', password: secret() };
const METER_A: Account = { username: 'meter-0001', password: secret() };
const METER_B: Account = { username: 'meter-0002', password: secret() };

/** One line of the shipped config replaced; fails when the shipped file no longer has it. */
function replaceDirective(conf: string, pattern: RegExp, replacement: string): string {
  const matches = conf.match(new RegExp(pattern.source, 'gm')) ?? [];
  if (matches.length !== 1) throw new Error(`deploy/mosquitto/mosquitto.conf: expected exactly one line matching ${pattern}, found ${matches.length}`);
  return conf.replace(new RegExp(pattern.source, 'm'), replacement);
}

/** The shipped configuration in `dir`, with this run's accounts in its password file. */
function shippedMosquitto(dir: string, port: number): OwnMosquitto {
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  fs.copyFileSync(path.join(DEPLOY_DIR, 'acl'), path.join(dir, 'acl'));
  const passwd = path.join(dir, 'passwd');
  fs.writeFileSync(passwd, '');
  for (const account of [SERVICE, METER_A, METER_B]) execFileSync(MOSQUITTO_PASSWD, ['-b', passwd, account.username, account.password]);
  return new OwnMosquitto(dir, port, ({ logFile }) => {
    let conf = fs.readFileSync(path.join(DEPLOY_DIR, 'mosquitto.conf'), 'utf8');
    conf = replaceDirective(conf, /^listener .*$/, `listener ${port} 127.0.0.1`);
    conf = replaceDirective(conf, /^password_file .*$/, `password_file ${passwd}`);
    conf = replaceDirective(conf, /^acl_file .*$/, `acl_file ${path.join(dir, 'acl')}`);
    conf = replaceDirective(conf, /^persistence_location .*$/, `persistence_location ${dataDir}/`);
    return replaceDirective(conf, /^log_dest .*$/, `log_dest file ${logFile}`);
  });
}

interface Received {
  topic: string;
  payload: string;
}
interface Connected {
  client: MqttClient;
  received: Received[];
  connack: IConnackPacket;
}

function reading(deviceId: string): string {
  return JSON.stringify({ deviceId, ts: new Date().toISOString(), voltage: 119.6 });
}

/** Subscribes; the SUBACK codes, or 128s when mqtt.js rejects a refused subscription. */
async function subscribe(client: MqttClient, topic: string): Promise<number[]> {
  try {
    const granted = await client.subscribeAsync(topic, { qos: 1 });
    return granted.map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: (number | { qos: number })[] } }).packet?.granted;
    if (!granted) throw err;
    return granted.map((g) => (typeof g === 'number' ? g : g.qos));
  }
}

describe('the shipped Mosquitto configuration (deploy/mosquitto)', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let broker: OwnMosquitto | undefined;
  let url = '';
  const clients: MqttClient[] = [];
  const killOnExit = () => broker?.killNow();

  /** Connects as `who` (null: anonymous) with MQTT 3.1.1, no automatic reconnection. */
  function open(who: Account | null, options: IClientOptions = {}): Promise<Connected> {
    const client = mqtt.connect(url, {
      clientId: `acl-test-${randomBytes(4).toString('hex')}`,
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      ...(who ? { username: who.username, password: who.password } : {}),
      ...options,
    });
    clients.push(client);
    // Listening before CONNACK: a resumed session delivers its queue right after it.
    const received: Received[] = [];
    client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString('utf8') }));
    return new Promise((resolve, reject) => {
      client.once('connect', (connack) => resolve({ client, received, connack }));
      client.once('error', reject);
      client.once('close', () => reject(new Error('connection closed before CONNACK')));
    });
  }

  beforeAll(async () => {
    requireMosquittoBinaries(MOSQUITTO, MOSQUITTO_PASSWD);
    temp = makeTempDir('meterstream-mosquitto-acl-');
    const port = await freePort();
    broker = shippedMosquitto(temp.dir, port);
    url = `mqtt://127.0.0.1:${port}`;
    process.once('exit', killOnExit);
    await broker.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  });

  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
    await broker?.stop();
    process.removeListener('exit', killOnExit);
    temp?.cleanup();
  });

  it('refuses anonymous clients, unknown users and wrong passwords, and admits the accounts in the password file', async () => {
    // CONNACK 5, "not authorised", for each; 'connected' would mean the broker let it in.
    const outcome = (who: Account | null) =>
      open(who).then(
        () => 'connected',
        (err: { code?: number; message: string }) => err.code ?? err.message,
      );
    expect(await outcome(null)).toBe(5);
    expect(await outcome({ username: SERVICE.username, password: `${SERVICE.password}x` })).toBe(5);
    expect(await outcome({ username: METER_A.username, password: SERVICE.password })).toBe(5);
    expect(await outcome({ username: 'meter-unknown', password: METER_A.password })).toBe(5);
    const service = await open(SERVICE);
    const meter = await open(METER_A);
    expect([service.connack.returnCode, meter.connack.returnCode]).toEqual([0, 0]);
  });

  it("delivers everything a meter publishes under line/ to the service (bad topics become dead letters there), and drops its publishes anywhere else", async () => {
    const service = await open(SERVICE);
    expect(await subscribe(service.client, 'line/#')).toEqual([1]);
    expect(await subscribe(service.client, 'alerts/#')).toEqual([1]);
    const meter = await open(METER_A);

    // MQTT 3.1.1 has no negative PUBACK: Mosquitto acknowledges a denied publish and drops it.
    await meter.client.publishAsync('alerts/line/L01', '{"forged":"by a meter"}', { qos: 1 });
    await meter.client.publishAsync('line/L01/Commands', '{"forged":"by a meter"}', { qos: 1 });
    await meter.client.publishAsync('line/L01/SmartMeterData/extra', '{"forged":"by a meter"}', { qos: 1 });
    const valid = reading('m-acl-1');
    await meter.client.publishAsync('line/L01/SmartMeterData', valid, { qos: 1 });
    // Markers published after the forgeries: once they are in, anything routed earlier would be too.
    const alertMarker = `{"marker":"${secret()}"}`;
    await service.client.publishAsync('alerts/line/L01', alertMarker, { qos: 1 });

    await waitFor(() => service.received.some((m) => m.payload === valid) && service.received.some((m) => m.payload === alertMarker), {
      what: "the meter's reading and the service's alert marker at the service",
    });
    expect(service.received).toEqual([
      { topic: 'line/L01/Commands', payload: '{"forged":"by a meter"}' },
      { topic: 'line/L01/SmartMeterData/extra', payload: '{"forged":"by a meter"}' },
      { topic: 'line/L01/SmartMeterData', payload: valid },
      { topic: 'alerts/line/L01', payload: alertMarker },
    ]);
  });

  it('lets meters receive nothing: not #, not $SYS/#, not line/#, not alerts/#, not their own line', async () => {
    const service = await open(SERVICE);
    await subscribe(service.client, 'line/#');
    await subscribe(service.client, 'alerts/#');
    const spy = await open(METER_A);
    // Mosquitto 2.0 grants these subscriptions and filters on delivery; a refusal (128) is fine too.
    for (const filter of ['#', '$SYS/#', 'line/#', 'alerts/#', 'line/+/SmartMeterData', 'line/L01/SmartMeterData']) {
      const granted = await subscribe(spy.client, filter);
      expect(granted).toHaveLength(1);
    }
    const other = await open(METER_B);
    const theirs = reading('m-acl-other');
    await other.client.publishAsync('line/L01/SmartMeterData', theirs, { qos: 1 });
    const alert = `{"marker":"${secret()}"}`;
    await service.client.publishAsync('alerts/line/L01', alert, { qos: 1 });
    // The spy's own publish, acknowledged on its own socket: anything routed to it before (the
    // other meter's reading, the alert, retained $SYS topics from subscribing) arrives before this PUBACK.
    const own = reading('m-acl-spy');
    await spy.client.publishAsync('line/L01/SmartMeterData', own, { qos: 1 });
    await waitFor(() => [theirs, alert, own].every((p) => service.received.some((m) => m.payload === p)), {
      what: 'every marker routed (seen by the service)',
    });
    expect(spy.received).toEqual([]);
  });

  it("keeps the service's persistent session and a reading acknowledged to a meter across a broker restart", async () => {
    const clientId = 'meterstream-acl-test-bridge';
    const first = await open(SERVICE, { clientId, clean: false });
    expect(await subscribe(first.client, 'line/#')).toEqual([1]);
    await first.client.endAsync();
    const meter = await open(METER_A);
    const kept = reading('m-acl-kept');
    await meter.client.publishAsync('line/L02/SmartMeterData', kept, { qos: 1 });
    await meter.client.endAsync();

    await broker!.stop();
    await broker!.start();

    const again = await open(SERVICE, { clientId, clean: false });
    expect(again.connack.sessionPresent).toBe(true);
    await waitFor(() => again.received.length > 0, { what: 'the queued reading after the restart', timeoutMs: 15_000 });
    expect(again.received).toEqual([{ topic: 'line/L02/SmartMeterData', payload: kept }]);
  });
});
