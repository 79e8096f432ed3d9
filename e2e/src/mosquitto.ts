import * as net from 'node:net';
import type { BrokerUnderTest } from './pipeline-suite';

export const MOSQUITTO_URL = process.env.MOSQUITTO_URL ?? 'mqtt://127.0.0.1:18830';

/** The Mosquitto that scripts/engines/up.sh started; fails loudly (never skips) when it is not there. */
export async function mosquitto(): Promise<BrokerUnderTest> {
  const { hostname, port } = new URL(MOSQUITTO_URL);
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) =>
      reject(new Error(`Mosquitto is not reachable at ${MOSQUITTO_URL} (${err.message}); run \`npm run test:engines\`, which installs and starts it`)),
    );
  });
  return { url: MOSQUITTO_URL, close: async () => undefined };
}
