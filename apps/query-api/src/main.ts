/**
 * Standalone query API: `node dist/apps/query-api/src/main.js`. Reads the same SQLite file the
 * stream processor writes (config.databaseFile), in WAL mode so reads never block its writes.
 *
 * If the API starts before the processor, it creates the database file and the empty read-model
 * tables (both idempotent) and serves empty lists until the processor fills them; it never needs
 * a restart. That is why it opens the file read-write, although it only reads.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@meterstream/config';
import { exitWithParent } from '@meterstream/observability';
import { SqliteReadModel } from '@meterstream/read-model';
import { createStreamLog } from '@meterstream/stream';
import { StreamAlertEventSink } from './alerts/alert-events';
import { createApiApp } from './create-api-app';

async function main(): Promise<void> {
  const config = loadConfig();
  const readModel = SqliteReadModel.open(config.databaseFile);
  const log = createStreamLog(config);
  const app = await createApiApp({ readModel, alertEvents: new StreamAlertEventSink(log), config }).catch(async (err: unknown) => {
    await readModel.close();
    await log.close();
    throw err;
  });
  await app.listen(config.PORT, config.HOST);

  const { address, port } = app.getHttpServer().address() as AddressInfo;
  const base = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  console.log(`query API listening on ${base} (database ${config.databaseFile})`);
  console.log(`dashboard: ${base}/  ·  OpenAPI UI: ${base}/docs  ·  OpenAPI JSON: ${base}/docs-json`);

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing the query API`);
    await app.close();
    await readModel.close();
    await log.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  exitWithParent();
}

main().catch((err: unknown) => {
  console.error(`query API failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
