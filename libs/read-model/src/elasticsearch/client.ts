import { Client, type ClientOptions } from '@elastic/elasticsearch';

export interface ElasticsearchConnection {
  /** e.g. http://127.0.0.1:9200 */
  node: string;
  username?: string;
  password?: string;
  /** Base64 `id:api_key` as Elasticsearch returns it; wins over username/password. */
  apiKey?: string;
  /** Per request; a bulk that takes longer is retried (default 30 s). */
  requestTimeoutMs?: number;
}

/**
 * REST API compatibility: the 9.x client announces `compatible-with=9`, which Elasticsearch 8.x
 * servers before 8.19 reject (media_type_header_exception). `compatible-with=8` is accepted by
 * every 8.x server and by 9.x servers (their compatibility mode for 8.x clients), and every
 * request this adapter makes has the same shape in both, so one client serves both majors.
 */
const COMPATIBLE_WITH_8 = 'application/vnd.elasticsearch+json; compatible-with=8';
export const COMPATIBILITY_HEADERS = { accept: COMPATIBLE_WITH_8, 'content-type': COMPATIBLE_WITH_8 } as const;

export function createElasticsearchClient(connection: ElasticsearchConnection): Client {
  let auth: ClientOptions['auth'];
  if (connection.apiKey) auth = { apiKey: connection.apiKey };
  else if (connection.username) auth = { username: connection.username, password: connection.password ?? '' };
  return new Client({
    node: connection.node,
    auth,
    headers: { ...COMPATIBILITY_HEADERS },
    requestTimeout: connection.requestTimeoutMs ?? 30_000,
    // The bulk writer owns retries of writes (maxRetries 0 per request); reads keep the client's few.
    maxRetries: 2,
  });
}
