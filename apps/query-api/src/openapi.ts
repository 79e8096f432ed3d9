import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { MAX_BODY_BYTES, MAX_BODY_DEPTH } from './common/json-body';

export const DOCS_PATH = 'docs';
export const DOCS_JSON_PATH = 'docs-json';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('meterstream query API')
    .setDescription(
      [
        'Live state and history of the feeder lines, derived from the meter readings stream.',
        '',
        'Times in query parameters accept ISO-8601 (`2026-11-29T05:00:00Z`, a date, or an offset such as `+05:30`, URL-encoded as `%2B05:30`) or epoch milliseconds; times in responses are ISO-8601 UTC.',
        'Ranges are [from, to): `from` inclusive, `to` exclusive, at most 31 days. Unknown query parameters are refused with 400.',
        `Request bodies are JSON (\`Content-Type: application/json\`, UTF-8; otherwise 415), at most ${MAX_BODY_BYTES} bytes (otherwise 413) and ${MAX_BODY_DEPTH} levels deep (otherwise 400).`,
        '',
        'Authentication: when the server has API_TOKEN set, every route except /health and /ready needs `Authorization: Bearer <API_TOKEN>`. A server listening beyond localhost refuses to start without one. This page, /docs-json and the dashboard at / (which asks for the token in the browser) are served without a token.',
      ].join('\n'),
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'The API_TOKEN the server was started with.' })
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Serves the OpenAPI UI at /docs and the document at /docs-json. */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app), { jsonDocumentUrl: DOCS_JSON_PATH, yamlDocumentUrl: 'docs-yaml' });
}
