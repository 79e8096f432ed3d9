import { timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import { isLoopback } from '@meterstream/config';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  username?: string;
  password?: string;
}

export interface EmbeddedBroker {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The embedded MQTT broker (aedes, in process) for a machine with nothing installed. Sessions and
 * queued QoS 1 messages live in memory: a bridge that restarts gets what it had not acknowledged,
 * as long as this process lives. Listening beyond loopback requires credentials.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const { username, password } = options;
  if (!isLoopback(options.host) && (!username || !password)) {
    throw new Error(`refusing to start the embedded MQTT broker on ${options.host} without authentication: set MQTT_USERNAME and MQTT_PASSWORD (or bind MQTT_HOST=127.0.0.1)`);
  }
  // aedes 0.51 is CommonJS; imported lazily so code that only talks to an external broker never loads it.
  const { createBroker } = await import('aedes');
  const aedes = createBroker({
    authenticate: (_client, user, pass, done) => {
      if (!username) return done(null, true);
      const ok = user !== undefined && pass !== undefined && sameSecret(user, username) && sameSecret(pass.toString(), password ?? '');
      if (ok) return done(null, true);
      return done(Object.assign(new Error('bad username or password'), { returnCode: 4 as const }), false);
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
    close: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}
