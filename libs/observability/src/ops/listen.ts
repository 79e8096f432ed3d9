import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';

/** A taken or forbidden operations port: a setting to change, reported without a stack trace. */
export class OperationsPortError extends Error {
  readonly settingsError = true;
}

/**
 * Starts a service's operations listener (/health, /ready, /metrics) on `host:port` and returns its
 * base URL. A taken port fails the start with the variable to change, like the API's PORT.
 */
export async function listenForOperations(app: INestApplication, host: string, port: number, portVariable: string): Promise<string> {
  try {
    await app.listen(port, host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new OperationsPortError(`cannot serve metrics and health on ${host}:${port} (${code}): set ${portVariable} to a free port (0 picks one) or METRICS_HOST to an address of this machine`);
    }
    throw err;
  }
  const address = app.getHttpServer().address() as AddressInfo;
  return `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
}
