/**
 * Standalone query API: `node dist/apps/query-api/src/main.js`. Serves the read model the stream
 * processor writes, chosen by READ_MODEL_BACKEND (ReadModelModule), and appends operators' alert
 * commands (acknowledge, close, reopen) to the `alert-commands` stream of STREAM_BACKEND
 * (StreamLogModule); the processor applies them to the read model.
 *
 * SQLite (default): the same file the processor writes (DATA_DIR/meterstream.db), in WAL mode so
 * reads never block its writes. If the API starts before the processor, it creates the database
 * file and the empty read-model tables (both idempotent) and serves empty lists until the
 * processor fills them; it never needs a restart. That is why it opens the file read-write,
 * although it only reads. Elasticsearch: the index templates are installed at start-up
 * (idempotent), so the API also may start first; an unreachable cluster fails the start.
 */
import type { AddressInfo } from 'node:net';
import type { ApiConfig, ReadModelConfig, StreamConfig } from '@meterstream/config';
import { apiConfig, readModelConfig, streamConfig } from '@meterstream/config/nest';
import { announceStarted, exitWithParent, ServiceLogger } from '@meterstream/observability';
import { createApiService } from './create-api-app';

async function main(): Promise<void> {
  const app = await createApiService();
  const api = app.get<ApiConfig>(apiConfig.KEY);
  await app.listen(api.PORT, api.HOST);

  const { address, port } = app.getHttpServer().address() as AddressInfo;
  const base = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  const logger = app.get(ServiceLogger);
  logger.log(`query API listening on ${base} (${describeBackends(app.get<ReadModelConfig>(readModelConfig.KEY), app.get<StreamConfig>(streamConfig.KEY))})`, 'query-api');
  logger.log(`dashboard: ${base}/  ·  OpenAPI UI: ${base}/docs  ·  OpenAPI JSON: ${base}/docs-json  ·  metrics ${base}/metrics, health ${base}/health, ${base}/ready`, 'query-api');

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: closing the query API`, 'query-api');
    // Closes the HTTP server, then the read model and the stream log (their modules' onModuleDestroy).
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  exitWithParent();
  announceStarted();
}

/** Where the API reads and where alert commands go, for the start-up line. */
function describeBackends(readModel: ReadModelConfig, stream: StreamConfig): string {
  const model =
    readModel.READ_MODEL_BACKEND === 'sqlite'
      ? `read model SQLite ${readModel.databaseFile}`
      : `read model Elasticsearch ${readModel.ELASTICSEARCH_URL} (indices ${readModel.ELASTICSEARCH_INDEX_PREFIX}*)`;
  const streams =
    stream.STREAM_BACKEND === 'embedded'
      ? `alert commands to the embedded log ${stream.databaseFile}`
      : stream.STREAM_BACKEND === 'kafka'
        ? `alert commands to Kafka ${stream.KAFKA_BROKERS} (topics ${stream.KAFKA_TOPIC_PREFIX}*)`
        : `alert commands to Kinesis (streams ${stream.KINESIS_STREAM_PREFIX}*)`;
  return `${model}; ${streams}`;
}

main().catch((err: unknown) => {
  console.error(`query API failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
