import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * TLS to an external MQTT broker, from configuration: each item (the CA that signed the broker's
 * certificate, the client certificate and its key for mutual TLS) either as a PEM file
 * (MQTT_*_FILE) or as the PEM text itself (MQTT_*_PEM, for secrets managers that hand secrets over
 * as environment variables). Validated at start-up (config.ts), read once: a rotated file takes
 * effect at the next start.
 */
export const MQTT_TLS_ITEMS = {
  ca: { file: 'MQTT_CA_FILE', pem: 'MQTT_CA_PEM', what: 'the CA certificate(s) that signed the broker’s certificate' },
  cert: { file: 'MQTT_CERT_FILE', pem: 'MQTT_CERT_PEM', what: 'the client certificate' },
  key: { file: 'MQTT_KEY_FILE', pem: 'MQTT_KEY_PEM', what: 'the client certificate’s private key' },
} as const;
export type MqttTlsItem = keyof typeof MQTT_TLS_ITEMS;
type TlsVariable = (typeof MQTT_TLS_ITEMS)[MqttTlsItem]['file' | 'pem'];
export type MqttTlsSettings = Partial<Record<TlsVariable, string>>;

/** What node:tls and mqtt.js take as `ca`, `cert`, `key`. */
export type MqttTlsOptions = Partial<Record<MqttTlsItem, string>>;

/**
 * PEM text as a secrets manager may hold it: some keep one-line values with literal `\n`
 * sequences, which become line breaks here.
 */
export function normalisePem(text: string): string {
  return text.includes('\n') ? text : text.replace(/\\n/g, '\n');
}

/** The PEM text of a file; the error names the absolute path and what the system said. */
export function readPemFile(file: string): string {
  const absolute = path.resolve(file);
  try {
    return fs.readFileSync(absolute, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read ${absolute} (${e.code ?? e.message}): give the path of a PEM file this service can read`);
  }
}

/** Why `pem` is not a usable `item`, or undefined when it is. */
export function pemProblem(item: MqttTlsItem, pem: string): string | undefined {
  if (!pem.includes('-----BEGIN ')) return 'is not PEM text (expected a "-----BEGIN …-----" block)';
  try {
    if (item === 'key') createPrivateKey(pem);
    else new X509Certificate(pem);
    return undefined;
  } catch (err) {
    return `is not ${item === 'key' ? 'a private key' : 'a certificate'} in PEM (${(err as Error).message})`;
  }
}

/** The TLS material the settings name, read from files or taken from the PEM variables; undefined when none is set. */
export function mqttTlsOptions(settings: MqttTlsSettings): MqttTlsOptions | undefined {
  const options: MqttTlsOptions = {};
  for (const [item, names] of Object.entries(MQTT_TLS_ITEMS) as [MqttTlsItem, (typeof MQTT_TLS_ITEMS)[MqttTlsItem]][]) {
    const file = settings[names.file];
    const pem = settings[names.pem];
    if (file) options[item] = readPemFile(file);
    else if (pem) options[item] = normalisePem(pem);
  }
  return Object.keys(options).length > 0 ? options : undefined;
}

/** True when the client certificate and the key belong together. */
export function certificateMatchesKey(cert: string, key: string): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false; // a bad certificate or key is reported on its own variable
  }
}
