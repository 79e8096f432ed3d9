import { isLoopback, type ApiConfig } from '@meterstream/config';

/** A setting the API refuses (a bad HOST/API_TOKEN pair); `settingsError`: logged without a stack trace. */
export class InsecureExposureError extends Error {
  readonly settingsError = true;
}

/** Refuses an API that would answer anyone on the network: a non-loopback HOST needs an API_TOKEN. */
export function assertNotExposed(config: Pick<ApiConfig, 'HOST' | 'API_TOKEN'>): void {
  if (!isLoopback(config.HOST) && config.API_TOKEN === undefined) {
    throw new InsecureExposureError(
      `refusing to serve the query API on ${config.HOST} without authentication: set API_TOKEN to a long random secret ` +
        `(e.g. API_TOKEN=$(openssl rand -hex 32)) so clients must send "Authorization: Bearer <token>", or listen on HOST=127.0.0.1`,
    );
  }
}
