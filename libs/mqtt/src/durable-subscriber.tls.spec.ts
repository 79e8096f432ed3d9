import * as net from 'node:net';
import * as tls from 'node:tls';
import mqtt from 'mqtt';
import { issueCertificate, waitFor } from '@meterstream/test-harness';
import { DurableSubscriber, type InboundMessage } from './durable-subscriber';

/**
 * The subscriber over mutual TLS against aedes behind a node:tls server that requires a client
 * certificate (requestCert + rejectUnauthorized), with certificates made for the run. The engine
 * suite does the same against Mosquitto with the bridge process (e2e/src/mqtt-tls.mosquitto.engine.spec.ts).
 */
describe('DurableSubscriber over mutual TLS', () => {
  const ca = issueCertificate({ commonName: 'test CA', isCa: true });
  const server = issueCertificate({ commonName: 'broker', issuer: ca, ip: ['127.0.0.1'] });
  const client = issueCertificate({ commonName: 'bridge', issuer: ca });

  let close: () => Promise<void>;

  let url: string;
  const subscribers: DurableSubscriber[] = [];

  beforeAll(async () => {
    const { createBroker } = await import('aedes');
    const aedes = createBroker();
    const tlsServer = tls.createServer({ ca: ca.cert, cert: server.cert, key: server.key, requestCert: true, rejectUnauthorized: true }, aedes.handle as (socket: net.Socket) => void);
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    url = `mqtts://127.0.0.1:${(tlsServer.address() as net.AddressInfo).port}`;
    close = async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
    };
  });
  afterEach(async () => {
    await Promise.all(subscribers.splice(0).map((s) => s.stop()));
  });
  afterAll(async () => close());

  const subscriber = (options: Partial<ConstructorParameters<typeof DurableSubscriber>[0]>, received: InboundMessage[] = []) => {
    const s = new DurableSubscriber({ url, clientId: `tls-${subscribers.length}-${Date.now()}`, topics: ['line/#'], handleBatch: async (b) => void received.push(...b), ...options });
    s.on('error', () => undefined);
    subscribers.push(s);
    return s;
  };

  it('receives over mutual TLS with a certificate from the CA the broker trusts', async () => {
    const received: InboundMessage[] = [];
    await subscriber({ tls: { ca: ca.cert, cert: client.cert, key: client.key } }, received).start();
    const meter = await mqtt.connectAsync(url, { ca: ca.cert, cert: client.cert, key: client.key, clientId: `meter-${Date.now()}` });
    await meter.publishAsync('line/L01/SmartMeterData', 'over tls', { qos: 1 });
    await meter.endAsync();
    await waitFor(() => received.length === 1, { what: 'the message over TLS' });
    expect(received[0].payload.toString()).toBe('over tls');
  });

  // node:tls checks a client certificate after the handshake and then closes the socket without a
  // TLS alert, so an expired certificate or one from another CA shows here only as a closed
  // connection; Mosquitto (OpenSSL's own verification) answers with the alert, and the engine suite
  // checks those refusals there. A missing certificate OpenSSL refuses itself, here too.
  it('fails start() with a clear message, without retrying, when it presents no client certificate', async () => {
    const s = subscriber({ tls: { ca: ca.cert } });
    await expect(s.start()).rejects.toThrow(/^MQTT broker mqtts:\/\/127\.0\.0\.1:\d+: the broker refused the TLS connection: it requires a client certificate and none was presented$/);
    expect(s.counters.reconnects).toBe(0);
  });

  it("fails start() when it does not trust the broker's certificate", async () => {
    const s = subscriber({ tls: { cert: client.cert, key: client.key } });
    await expect(s.start()).rejects.toThrow(/the broker's certificate is not trusted: .*\(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY\)/);
  });

  it("reports 'fatal' and stops when, after start, the broker refuses it (here: its credentials, revoked meanwhile)", async () => {
    const { createBroker } = await import('aedes');
    let revoked = false;
    const aedes = createBroker({ authenticate: (_client, _user, _password, done) => done(null, !revoked) });
    const plain = net.createServer(aedes.handle as (socket: net.Socket) => void);
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const s = subscriber({ url: `mqtt://127.0.0.1:${(plain.address() as net.AddressInfo).port}`, reconnectMinMs: 50 });
      await s.start();
      const fatal = new Promise<Error>((resolve) => s.once('fatal', resolve));
      revoked = true;
      (s as unknown as { socket: net.Socket }).socket.destroy(); // the connection drops; the reconnection is refused
      expect((await fatal).message).toMatch(/refused the connection: (bad username or password|not authorised)/);
      const reconnects = s.counters.reconnects;
      await new Promise((r) => setTimeout(r, 500));
      expect(s.counters.reconnects).toBe(reconnects); // stopped: no retry loop
    } finally {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });
});
