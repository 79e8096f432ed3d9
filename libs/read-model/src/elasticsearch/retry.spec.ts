import { errors } from '@elastic/elasticsearch';
import { classifyItem, describeRequestError, isRetryableRequestError } from './retry';

function responseError(statusCode: number, type: string): errors.ResponseError {
  return new errors.ResponseError({
    body: { error: { type, reason: `${type} happened` }, status: statusCode },
    statusCode,
    headers: {},
    warnings: null,
    meta: {} as never,
  });
}

describe('classifyItem', () => {
  it('counts written documents as done', () => {
    expect(classifyItem('create', 201)).toBe('done');
    expect(classifyItem('merge', 200)).toBe('done');
  });

  it('treats a create that finds its document already there as done (idempotent), a merge conflict as retry', () => {
    expect(classifyItem('create', 409)).toBe('done');
    expect(classifyItem('merge', 409)).toBe('retry');
  });

  it('retries back-pressure and server errors', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) expect(classifyItem('create', status)).toBe('retry');
  });

  it('fails documents the cluster refuses for good', () => {
    for (const status of [400, 403, 404, 413]) expect(classifyItem('create', status)).toBe('fail');
  });
});

describe('isRetryableRequestError', () => {
  it('retries an unreachable or slow cluster', () => {
    expect(isRetryableRequestError(new errors.ConnectionError('connect ECONNREFUSED 127.0.0.1:19200'))).toBe(true);
    expect(isRetryableRequestError(new errors.TimeoutError('Request timed out'))).toBe(true);
    expect(isRetryableRequestError(new errors.NoLivingConnectionsError('none', {} as never))).toBe(true);
    expect(isRetryableRequestError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
  });

  it('retries 429 and 5xx answers but not 4xx ones', () => {
    expect(isRetryableRequestError(responseError(429, 'es_rejected_execution_exception'))).toBe(true);
    expect(isRetryableRequestError(responseError(503, 'cluster_block_exception'))).toBe(true);
    expect(isRetryableRequestError(responseError(401, 'security_exception'))).toBe(false);
    expect(isRetryableRequestError(responseError(400, 'illegal_argument_exception'))).toBe(false);
  });

  it('does not retry programming errors', () => {
    expect(isRetryableRequestError(new TypeError('x is not a function'))).toBe(false);
  });
});

describe('describeRequestError', () => {
  it('says the status, the error type and the reason', () => {
    expect(describeRequestError(responseError(401, 'security_exception'))).toBe('HTTP 401 security_exception: security_exception happened');
    expect(describeRequestError(new errors.ConnectionError('connect ECONNREFUSED'))).toBe('ConnectionError: connect ECONNREFUSED');
  });
});
