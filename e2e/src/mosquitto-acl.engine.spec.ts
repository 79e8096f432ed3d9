import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import { freePort, makeTempDir, waitFor } from '@meterstream/test-harness';

/**
 * The shipped deploy/mosquitto configuration, run as is (only the listener, the file paths and the
 * persistence directory are swapped for temporary ones) in a Mosquitto of this test's own, so the
 * files operators deploy are the files proven here.
 */
const MOSQUITTO = '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';
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

class OwnMosquitto {
  private child: ChildProcess | undefined;
  readonly url: string;
  readonly logFile: string;
  private readonly confFile: string;

  constructor(
    private readonly dir: string,
    readonly port: number,
  ) {
    this.url = `mqtt://127.0.0.1:${port}`;
    this.logFile = path.join(dir, 'mosquitto.log');
    this.confFile = path.join(dir, 'mosquitto.conf');
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir);
    fs.copyFileSync(path.join(DEPLOY_DIR, 'acl'), path.join(dir, 'acl'));
    let conf = fs.readFileSync(path.join(DEPLOY_DIR, 'mosquitto.conf'), 'utf8');
    conf = replaceDirective(conf, /^listener .*$/, `listener ${port} 127.0.0.1`);
    conf = replaceDirective(conf, /^password_file .*$/, `password_file ${path.join(dir, 'passwd')}`);
    conf = replaceDirective(conf, /^acl_file .*$/, `acl_file ${path.join(dir, 'acl')}`);
    conf = replaceDirective(conf, /^persistence_location .*$/, `persistence_location ${dataDir}/`);
    conf = replaceDirective(conf, /^log_dest .*$/, `log_dest file ${this.logFile}`);
    fs.writeFileSync(this.confFile, conf);
    const passwd = path.join(dir, 'passwd');
    fs.writeFileSync(passwd, '');
    for (const account of [SERVICE, METER_A, METER_B]) execFileSync(MOSQUITTO_PASSWD, ['-b', passwd, account.username, account.password]);
    // Started as root, Mosquitto drops to the `mosquitto` user: it must read its files and write its data.
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'mosquitto']).toString().trim());
      const gid = Number(execFileSync('id', ['-g', 'mosquitto']).toString().trim());
      for (const entry of [dir, dataDir, passwd, path.join(dir, 'acl'), this.confFile]) fs.chownSync(entry, uid, gid);
    }
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '(no log)';
  }

  async start(): Promise<void> {
    const child = spawn(MOSQUITTO, ['-c', this.confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    const early: string[] = [];
    child.stdout?.on('data', (c: Buffer) => early.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => early.push(c.toString()));
    this.child = child;
    await waitFor(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`mosquitto exited (${child.exitCode ?? child.signalCode}): ${early.join('')}\n${this.log()}`);
        }
        return portOpen(this.port);
      },
      { what: `Mosquitto on 127.0.0.1:${this.port}`, timeoutMs: 15_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nlog:\n${this.log()}`);
    });
  }

  /** SIGTERM (Mosquitto saves its persistence file), SIGKILL if it hangs. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  killNow(): void {
    this.child?.kill('SIGKILL');
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
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
  const clients: MqttClient[] = [];
  const killOnExit = () => broker?.killNow();

  /** Connects as `who` (null: anonymous) with MQTT 3.1.1, no automatic reconnection. */
  function open(who: Account | null, options: IClientOptions = {}): Promise<Connected> {
    const client = mqtt.connect(broker!.url, {
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
    for (const binary of [MOSQUITTO, MOSQUITTO_PASSWD]) {
      if (!fs.existsSync(binary)) throw new Error(`${binary} is missing: run \`bash scripts/engines/mosquitto.sh\` (installs the Debian packages mosquitto and mosquitto-clients)`);
    }
    temp = makeTempDir('meterstream-mosquitto-acl-');
    broker = new OwnMosquitto(temp.dir, await freePort());
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
