import * as fs from 'node:fs';
import * as path from 'node:path';
import { issueCertificate, makeTempDir } from '@meterstream/test-harness';
import { loadConfig } from './config';
import { mqttTlsOptions } from './mqtt-tls';
import { alertChannelsNamespace, mqttNamespace, mqttTlsNamespace } from './namespaces';


/** PEM armour around a body that is not a key (built here so no key-shaped text sits in the repository). */
const armoured = (label: string, body: string): string => [`-----BEGIN ${label}-----`, body, `-----END ${label}-----`].join('\n');
describe('MQTT TLS settings', () => {
  let temp: ReturnType<typeof makeTempDir>;
  const ca = issueCertificate({ commonName: 'test CA', isCa: true });
  const client = issueCertificate({ commonName: 'bridge', issuer: ca });
  const other = issueCertificate({ commonName: 'other', issuer: ca });
  let files: { ca: string; cert: string; key: string; otherKey: string; garbage: string };
  const URL = 'mqtts://broker.example:8883';

  beforeAll(() => {
    temp = makeTempDir('meterstream-tls-config-');
    const write = (name: string, text: string) => {
      const file = path.join(temp.dir, name);
      fs.writeFileSync(file, text);
      return file;
    };
    files = { ca: write('ca.crt', ca.cert), cert: write('client.crt', client.cert), key: write('client.key', client.key), otherKey: write('other.key', other.key), garbage: write('garbage.crt', 'not a certificate') };
  });
  afterAll(() => temp.cleanup());

  it('reads the CA, the client certificate and the key from files, or from PEM text (with literal \\n as a secret store may keep it)', () => {
    const fromFiles = mqttNamespace.load({ MQTT_URL: URL, MQTT_CA_FILE: files.ca, MQTT_CERT_FILE: files.cert, MQTT_KEY_FILE: files.key });
    expect(mqttTlsOptions(fromFiles)).toEqual({ ca: ca.cert, cert: client.cert, key: client.key });
    const oneLine = client.key.replace(/\n/g, '\\n');
    const fromText = alertChannelsNamespace.load({ MQTT_URL: URL, MQTT_CA_PEM: ca.cert, MQTT_CERT_PEM: client.cert, MQTT_KEY_PEM: oneLine });
    expect(mqttTlsOptions(fromText)).toEqual({ ca: ca.cert, cert: client.cert, key: client.key });
    expect(mqttTlsOptions(mqttNamespace.load({}))).toBeUndefined();
    expect(mqttTlsOptions(mqttNamespace.load({ MQTT_URL: URL, MQTT_CA_FILE: files.ca }))).toEqual({ ca: ca.cert }); // server-side TLS only
  });

  it('names the variable and what to do: unreadable file (with its path), not PEM, file and PEM both, certificate without key, mismatched key, no mqtts://', () => {
    const missing = path.join(temp.dir, 'nope.crt');
    expect(() => mqttNamespace.load({ MQTT_URL: URL, MQTT_CA_FILE: missing })).toThrow(`MQTT_CA_FILE: cannot read ${missing} (ENOENT): give the path of a PEM file this service can read`);
    expect(() => mqttNamespace.load({ MQTT_URL: URL, MQTT_CA_FILE: files.garbage })).toThrow(`MQTT_CA_FILE: ${files.garbage} is not PEM text`);
    expect(() => mqttNamespace.load({ MQTT_URL: URL, MQTT_CERT_FILE: files.cert, MQTT_KEY_PEM: armoured('PRIVATE KEY', 'AAAA') })).toThrow(/MQTT_KEY_PEM: is not a private key in PEM/);
    expect(() => mqttNamespace.load({ MQTT_URL: URL, MQTT_CA_FILE: files.ca, MQTT_CA_PEM: ca.cert })).toThrow('MQTT_CA_PEM: MQTT_CA_FILE and MQTT_CA_PEM are both set: give the CA certificate(s)');
    expect(() => mqttNamespace.load({ MQTT_URL: URL, MQTT_CERT_FILE: files.cert })).toThrow('MQTT_CERT_FILE: mutual TLS needs both the client certificate');
    expect(() => mqttNamespace.load({ MQTT_URL: URL, MQTT_KEY_PEM: client.key })).toThrow('mutual TLS needs both');
    expect(() => mqttNamespace.load({ MQTT_URL: URL, MQTT_CERT_FILE: files.cert, MQTT_KEY_FILE: files.otherKey })).toThrow('MQTT_KEY_FILE: the client certificate (MQTT_CERT_FILE/MQTT_CERT_PEM) and the private key (MQTT_KEY_FILE/MQTT_KEY_PEM) do not belong together');
    expect(() => mqttNamespace.load({ MQTT_CA_FILE: files.ca })).toThrow('MQTT_URL: TLS settings (MQTT_CA_*, MQTT_CERT_*, MQTT_KEY_*) are set but the broker URL is not mqtts://');
    // The flat configuration (`meterstream start` checks everything) says the same.
    expect(() => loadConfig({ MQTT_URL: URL, MQTT_CERT_FILE: files.cert })).toThrow('mutual TLS needs both');
  });

  it('checks the simulator its TLS variables alone, whatever the broker URL (it takes the URL on its command line)', () => {
    expect(mqttTlsOptions(mqttTlsNamespace.load({ MQTT_CERT_FILE: files.cert, MQTT_KEY_FILE: files.key }))).toEqual({ cert: client.cert, key: client.key });
    expect(() => mqttTlsNamespace.load({ MQTT_CERT_FILE: files.cert })).toThrow('mutual TLS needs both');
  });

  it('takes a shared-subscription group name that MQTT allows', () => {
    expect(mqttNamespace.load({ MQTT_SHARED_GROUP: 'meterstream-bridges' }).MQTT_SHARED_GROUP).toBe('meterstream-bridges');
    expect(mqttNamespace.load({}).MQTT_SHARED_GROUP).toBeUndefined();
    expect(() => mqttNamespace.load({ MQTT_SHARED_GROUP: 'a/b' })).toThrow('MQTT_SHARED_GROUP: must be 1-64 letters');
  });
});
