/**
 * Standalone query API: `node dist/apps/query-api/src/main.js`. Serves the read model the stream
 * processor writes, chosen by READ_MODEL_BACKEND (createReadModel), and appends acknowledgements
 * to the alerts stream of STREAM_BACKEND (createStreamLog), so the processor's alert channels
 * deliver them like every other alert event.
 *
 * SQLite (default): the same file the processor writes (config.databaseFile), in WAL mode so
 * reads never block its writes. If the API starts before the processor, it creates the database
 * file and the empty read-model tables (both idempotent) and serves empty lists until the
 * processor fills them; it never needs a restart. That is why it opens the file read-write,
 * although it only reads. Elasticsearch: the index templates are installed at start-up
 * (idempotent), so the API also may start first; an unreachable cluster fails the start.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig, type Config } from '@meterstream/config';
import { exitWithParent } from '@meterstream/observability';
import { createReadModel } from '@meterstream/read-model';
import { createStreamLog } from '@meterstream/stream';
import { StreamAlertEventSink } from './alerts/alert-events';
import { createApiApp } from './create-api-app';

async function main(): Promise<void> {
  const config = loadConfig();
  const readModel = await createReadModel(config);
  const log = await Promise.resolve()
    .then(() => createStreamLog(config))
    .catch(async (err: unknown) => {
      await readModel.close();
      throw err;
    });
  const app = await createApiApp({ readModel, alertEvents: new StreamAlertEventSink(log), config }).catch(async (err: unknown) => {
    await readModel.close();
    await log.close();
    throw err;
  });
  await app.listen(config.PORT, config.HOST);

  const { address, port } = app.getHttpServer().address() as AddressInfo;
  const base = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  console.log(`query API listening on ${base} (${describeBackends(config)})`);
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

/** Where the API reads and where acknowledgements go, for the start-up line. */
function describeBackends(config: Config): string {
  const readModel = config.READ_MODEL_BACKEND === 'sqlite' ? `read model SQLite ${config.databaseFile}` : `read model Elasticsearch ${config.ELASTICSEARCH_URL} (indices ${config.ELASTICSEARCH_INDEX_PREFIX}*)`;
  const streams =
    config.STREAM_BACKEND === 'embedded'
      ? `acknowledgements to the embedded log ${config.databaseFile}`
      : config.STREAM_BACKEND === 'kafka'
        ? `acknowledgements to Kafka ${config.KAFKA_BROKERS} (topics ${config.KAFKA_TOPIC_PREFIX}*)`
        : `acknowledgements to Kinesis (streams ${config.KINESIS_STREAM_PREFIX}*)`;
  return `${readModel}; ${streams}`;
}

main().catch((err: unknown) => {
  console.error(`query API failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
