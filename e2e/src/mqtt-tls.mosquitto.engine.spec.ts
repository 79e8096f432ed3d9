import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parseReading, STREAMS, type ReadingEnvelope } from '@meterstream/contracts';
import { generateMessages, type SimulatorOptions } from '@meterstream/simulator';
import { envelopesInLog, makeTempDir, makeTestPki, PipelineProcesses, ROOT, waitFor, type TestPki } from '@meterstream/test-harness';
import { OwnMosquitto } from './own-mosquitto';

/**
 * Mutual TLS between the ingest bridge and an external broker (issue 14): a Mosquitto of this
 * test's own with `require_certificate true`, certificates made for this run (a CA, the broker's
 * certificate for 127.0.0.1, a valid client certificate, an expired one, one from another CA).
 * A bridge with the valid certificate connects and readings published by the simulator (which
 * presents a client certificate too) flow through it into the stream; a bridge with none, with the
 * expired one or with the stranger's is refused, and it exits 1 with one line that says why —
 * never a stack trace, never an endless silent retry.
 */

// Two hours ago, on a whole minute: recent enough that the read model keeps the raw readings.
const START = Math.floor((Date.now() - 2 * 3_600_000) / 60_000) * 60_000;
const SIMULATION: SimulatorOptions = { seed: 14, lines: 2, metersPerLine: 5, intervalMs: 15_000, start: START, durationMs: 5 * 60_000, faults: 'none' };

/** TLS only, a client certificate required, signed by `clientCaFile`. */
const mosquittoConf = ({ port, logFile }: { port: number; logFile: string }, clientCaFile: string) => `
listener ${port} 127.0.0.1
cafile ${clientCaFile}
certfile ${pki.server.certFile}
keyfile ${pki.server.keyFile}
require_certificate true
allow_anonymous true
persistence false
log_dest file ${logFile}
log_type all
`;
let pki: TestPki;

describe('mutual TLS between the ingest bridge and Mosquitto (require_certificate true)', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let broker: OwnMosquitto | undefined;
  let pipeline: PipelineProcesses | undefined;
  let url = '';

  beforeAll(async () => {
    temp = makeTempDir('meterstream-mqtt-tls-');
    pki = makeTestPki(temp.dir);
    broker = await OwnMosquitto.launch(temp.dir, (files) => mosquittoConf(files, pki.caFile));
    url = `mqtts://127.0.0.1:${broker.port}`;
    // The processor and API too: the readings are checked where the pipeline serves them. Every
    // service gets the valid certificate (the processor's MQTT alert channel connects with it).
    pipeline = await PipelineProcesses.start({
      mqttUrl: url,
      dataDir: path.join(temp.dir, 'data'),
      bridge: false,
      env: { MQTT_CA_FILE: pki.caFile, MQTT_CERT_FILE: pki.client.certFile, MQTT_KEY_FILE: pki.client.keyFile, MQTT_CLIENT_ID: `tls-bridge-${Date.now()}` },
    });
  }, 120_000);

  afterAll(async () => {
    await pipeline?.stop();
    await broker?.close();
    temp?.cleanup();
  }, 60_000);

  it('connects a bridge with a client certificate from the trusted CA, and readings from the simulator (also with a certificate) flow through it into the stream', async () => {
    await pipeline!.spawnBridge();
    expect(pipeline!.output('bridge')).toMatch(/connected to mqtts:\/\/127\.0\.0\.1:\d+ .*subscribed to line\/#/);

    // The simulator's command line, with the certificates from the same variables the services read.
    const env = { ...process.env, MQTT_URL: url, MQTT_CA_FILE: pki.caFile, MQTT_CERT_FILE: pki.client.certFile, MQTT_KEY_FILE: pki.client.keyFile };
    const args = ['--lines', '2', '--meters-per-line', '5', '--seed', '14', '--start', new Date(START).toISOString(), '--duration', '5m', '--speed', '0', '--faults', 'none', '--client-id', 'tls-simulator'];
    await promisify(execFile)(process.execPath, [path.join(ROOT, 'dist/simulator/src/main.js'), ...args], { env, cwd: ROOT });

    const want = new Set<string>();
    for (const m of generateMessages(SIMULATION)) {
      const parsed = parseReading(m.topic, m.payload, { ingestTime: Date.now() });
      if (parsed.ok) want.add(parsed.envelope.id);
    }
    expect(want.size).toBe(2 * 5 * 20);
    const dataDir = path.join(temp.dir, 'data');
    await waitFor(
      () => {
        const ids = new Set(envelopesInLog<ReadingEnvelope>(dataDir, STREAMS.readings).map((r) => r.id));
        return [...want].every((id) => ids.has(id));
      },
      { what: `the ${want.size} simulated readings in the readings stream`, timeoutMs: 60_000, intervalMs: 500 },
    );
    // And served by the API once the processor has them.
    const from = new Date(START).toISOString();
    const to = new Date(START + SIMULATION.durationMs).toISOString();
    const served = await waitFor(
      async () => {
        const body = await pipeline!.get<{ readings: unknown[] }>(`/lines/L01/readings?from=${from}&to=${to}&limit=1000`);
        return body.readings.length === 5 * 20 ? body.readings : undefined;
      },
      { what: 'the 100 readings of L01 in the API', timeoutMs: 60_000 },
    );
    expect(served).toHaveLength(100);
  }, 180_000);

  const refusals: [string, () => Record<string, string>, RegExp][] = [
    ['no client certificate', () => ({ MQTT_CERT_FILE: '', MQTT_KEY_FILE: '' }), /requires a client certificate and none was presented.*set MQTT_CERT_FILE and MQTT_KEY_FILE/],
    ['an expired client certificate', () => ({ MQTT_CERT_FILE: pki.expiredClient.certFile, MQTT_KEY_FILE: pki.expiredClient.keyFile }), /the client certificate has expired.*meterstream-bridge-expired.*valid .* to /],
    ['a client certificate from another CA', () => ({ MQTT_CERT_FILE: pki.strangerClient.certFile, MQTT_KEY_FILE: pki.strangerClient.keyFile }), /not issued by a CA the broker trusts.*issued by "CN=another CA"/],
    ["no CA for the broker's certificate", () => ({ MQTT_CA_FILE: '' }), /broker's certificate is not trusted.*set MQTT_CA_FILE/],
    ['an unreadable certificate file', () => ({ MQTT_CERT_FILE: path.join(temp.dir, 'missing.crt') }), /MQTT_CERT_FILE: cannot read .*missing\.crt \(ENOENT\)/],
  ];
  it.each(refusals)('refuses a bridge with %s: it exits 1 with one line saying why, no stack trace', async (what, env, reason) => {
    const name = `bridge-${what.replace(/\W+/g, '-')}` as const;
    const { code, output } = await pipeline!.runBridgeToExit(name, { ...env(), MQTT_CLIENT_ID: `tls-refused-${Date.now()}` });
    console.log(`${what}:\n${output}`);
    expect(code).toBe(1);
    expect(output).toMatch(/ingest-bridge failed to start: /);
    expect(output).toMatch(reason);
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toContain('subscribed to');
  }, 90_000);

  it('stops a running bridge that the broker no longer accepts (restarted to trust only another CA): it logs why and exits 1', async () => {
    expect(pipeline!.output('bridge')).toContain('subscribed to line/#'); // the bridge of the first test, still running
    await broker!.stop();
    broker!.configure((files) => mosquittoConf(files, pki.otherCaFile));
    await broker!.start();
    const exit = await pipeline!.waitForExit('bridge', 60_000);
    const output = pipeline!.output('bridge');
    console.log(`refused after start-up (exit ${exit}):\n${output.split('\n').slice(-4).join('\n')}`);
    expect(exit).toBe(1);
    expect(output).toMatch(/the broker refused the TLS connection: the client certificate was not issued by a CA the broker trusts; .*; stopping/);
    expect(output).not.toMatch(/^\s+at /m);
  }, 120_000);
});
