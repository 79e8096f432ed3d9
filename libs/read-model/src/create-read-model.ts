import type { ReadModelConfig } from '@meterstream/config';
import type { ReadModel } from './read-model';
import { SqliteReadModel } from './sqlite';

// Type only: the Elasticsearch client is required inside its branch, so the SQLite default does
// not load it through this factory.
type ElasticsearchModule = typeof import('./elasticsearch');

/**
 * Picks the read model from READ_MODEL_BACKEND, ready to use; the caller closes it.
 *
 * - sqlite (default): DATA_DIR/meterstream.db (WAL, busy timeout), tables created when missing.
 *   Every process of one host shares the file: the processor writes, the query API reads.
 * - elasticsearch: ELASTICSEARCH_URL, ELASTICSEARCH_USERNAME/PASSWORD or ELASTICSEARCH_API_KEY,
 *   indices under ELASTICSEARCH_INDEX_PREFIX. The index templates and single indices are
 *   installed before this resolves (migrate(), idempotent), so it rejects when the cluster is
 *   unreachable at start-up rather than on the first write.
 */
export async function createReadModel(config: ReadModelConfig): Promise<ReadModel> {
  switch (config.READ_MODEL_BACKEND) {
    case 'sqlite':
      return SqliteReadModel.open(config.databaseFile);
    case 'elasticsearch': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { ElasticsearchReadModel } = require('./elasticsearch') as ElasticsearchModule;
      const model = ElasticsearchReadModel.fromConfig(config);
      try {
        await model.migrate();
      } catch (err) {
        await model.close().catch(() => undefined);
        throw new Error(`READ_MODEL_BACKEND=elasticsearch: could not prepare the indices at ${config.ELASTICSEARCH_URL}: ${(err as Error).message}`, { cause: err });
      }
      return model;
    }
  }
}
