export { createApiApp, InsecureExposureError, type ApiAppOptions } from './create-api-app';
export { buildOpenApiDocument } from './openapi';
