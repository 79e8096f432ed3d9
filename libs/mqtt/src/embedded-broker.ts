import { timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import type { AuthenticateError, Client, PublishPacket, Subscription } from 'aedes';
import { isLoopback } from '@meterstream/config';
import { GroupCommit } from './group-commit';

export interface Credentials {
  username: string;
  password: string;
}

/** A message the broker hands to the embedded ingest. */
export interface BrokerMessage {
  topic: string;
  payload: Buffer;
}

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * The service's own credentials: they alone may subscribe, publish outside `line/` (alerts) and
   * use a client id starting with `meterstream-`. Without them (loopback only: tests, benchmarks)
   * every client is trusted.
   */
  service?: Credentials;
  /** What meters log in with. Without them (loopback only) meters connect anonymously. */
  device?: Credentials;
  /**
   * Embedded ingest: every publish under `line/` is handed over in group-committed batches, and the
   * publisher's PUBACK is sent only after the batch holding it resolved (the reading, or its dead
   * letter, is durable). While it rejects, nothing is acknowledged and the broker stops reading
   * from the publishers that wait.
   */
  ingest?(messages: BrokerMessage[]): Promise<void>;
  /** Most messages in one ingest commit. */
  ingestBatchMax?: number;
  onIngestError?(err: Error): void;
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  /** Messages acknowledged after their ingest commit. */
  readonly ingested: () => number;
  /** Publishes under line/ handed to ingest (a resent one counts again). */
  readonly received: () => number;
  /** Publishes waiting for their ingest commit (unacknowledged). */
  readonly inFlight: () => number;
  close(): Promise<void>;
}

/** Client ids of the service's own connections (bridge, alert publisher): never a device's. */
export const RESERVED_CLIENT_ID_PREFIX = 'meterstream-';

type Role = 'service' | 'device';
const roles = new WeakMap<Client, Role>();

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function matches(credentials: Credentials | undefined, user: string | undefined, pass: Buffer | undefined): boolean {
  return credentials !== undefined && user !== undefined && pass !== undefined && sameSecret(user, credentials.username) && sameSecret(pass.toString(), credentials.password);
}

function refusal(message: string, returnCode: 2 | 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * The embedded MQTT broker (aedes, in process) for a machine with nothing installed.
 *
 * With `ingest`, there is no second MQTT hop: the broker validates and commits each reading on its
 * publish-authorisation path and acknowledges the publisher only then, so a PUBACK always means
 * durable — if this process dies, what was not acknowledged is resent by the publisher.
 *
 * Permissions: meters publish only under `line/` (anything there that is not a valid readings
 * topic becomes a dead letter, never a disconnect), cannot publish elsewhere (alerts/#) and cannot
 * subscribe at all; the service's credentials may do both. Listening beyond loopback requires both
 * sets of credentials.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { service, device } = options;
  if (!isLoopback(options.host) && (!service || !device)) {
    throw new Error(
      `refusing to start the embedded MQTT broker on ${options.host} without authentication: set MQTT_USERNAME and MQTT_PASSWORD (the service) and MQTT_DEVICE_USERNAME and MQTT_DEVICE_PASSWORD (the meters), or bind MQTT_HOST=127.0.0.1`,
    );
  }
  const ingest = options.ingest;
  const commits = ingest
    ? new GroupCommit<BrokerMessage>({ maxBatch: options.ingestBatchMax ?? 2000, commit: (batch) => ingest(batch), onError: options.onIngestError })
    : undefined;

  // aedes 0.51 is CommonJS; imported lazily so code that only talks to an external broker never loads it.
  const { createBroker } = await import('aedes');
  const aedes = createBroker({
    authenticate: (client, user, pass, done) => {
      let role: Role;
      if (!service || matches(service, user, pass)) role = 'service';
      else if (device ? matches(device, user, pass) : user === undefined || user !== service.username) role = 'device';
      else return done(refusal('bad username or password', 4), false);
      if (role === 'device' && client.id.startsWith(RESERVED_CLIENT_ID_PREFIX)) {
        return done(refusal(`client id ${client.id} is reserved for the service`, 2), false);
      }
      roles.set(client, role);
      done(null, true);
    },
    authorizePublish: (client, packet, done) => {
      if (packet.topic.startsWith('$SYS')) return done(new Error('$SYS topics are reserved'));
      const role = client ? roles.get(client) : 'device';
      if (packet.topic.startsWith('line/')) {
        // Readings are not retained: a device must not make the broker keep its bytes.
        packet.retain = false;
        if (!commits) return done(null);
        return commits.submit({ topic: packet.topic, payload: toBuffer(packet) }, (err) => done(err ?? null));
      }
      if (role === 'service') return done(null);
      // MQTT 3.1.1 has no negative PUBACK: the broker closes the connection of a refused publish.
      done(new Error(`not authorised to publish to ${packet.topic}: meters publish only to line/{lineId}/SmartMeterData`));
    },
    authorizeSubscribe: (client, subscription: Subscription, done) => {
      if (roles.get(client) === 'service') return done(null, subscription);
      // A refused subscription is answered with the failure code 0x80 in SUBACK.
      done(null, null as unknown as Subscription);
    },
  });
  const server = net.createServer(aedes.handle as (socket: net.Socket) => void);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    port,
    ingested: () => commits?.counters.committed ?? 0,
    received: () => commits?.counters.submitted ?? 0,
    inFlight: () => commits?.pending ?? 0,
    close: async () => {
      // Stop accepting first, then let the commit in progress finish (its publishers get their
      // PUBACKs if the sockets are still up); what is queued is refused and will be resent.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await commits?.stop();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await closed;
    },
  };
}

function toBuffer(packet: PublishPacket): Buffer {
  return Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
}
