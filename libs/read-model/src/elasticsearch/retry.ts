import { errors } from '@elastic/elasticsearch';

/**
 * What to do with one bulk item, from its status:
 * - `done`: written, or (for an insert-once document) already there: 409 on a create means an
 *   earlier attempt or an earlier delivery wrote it, which is exactly the idempotence we want;
 * - `retry`: the cluster could not take it now (429 back-pressure, 5xx, a shard not ready), or a
 *   read-modify-write document changed under us (409: read it again and merge again);
 * - `fail`: the document itself is wrong (mapping, too large, ...): retrying cannot help, so it is
 *   reported, never dropped silently.
 */
export type ItemOutcome = 'done' | 'retry' | 'fail';

/** `create`: insert-once documents. `merge`: documents written after reading the stored version. */
export type WriteKind = 'create' | 'merge';

export function classifyItem(kind: WriteKind, status: number): ItemOutcome {
  if (status >= 200 && status < 300) return 'done';
  if (status === 409) return kind === 'create' ? 'done' : 'retry';
  return isRetryableStatus(status) ? 'retry' : 'fail';
}

/** 408 request timeout, 429 too many requests (rejected execution, flood-stage block), any 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Whether a failed request (not an item) is worth sending again: the cluster was unreachable,
 * timed out, or answered with a retryable status. A 4xx answer (bad credentials, a malformed
 * request) is not: it would fail the same way forever.
 */
export function isRetryableRequestError(err: unknown): boolean {
  if (err instanceof errors.ConnectionError || err instanceof errors.TimeoutError || err instanceof errors.NoLivingConnectionsError) return true;
  if (err instanceof errors.ResponseError) return isRetryableStatus(err.statusCode ?? 0);
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'].includes(code);
}

/** One line about a failed request, for logs and error messages. */
export function describeRequestError(err: unknown): string {
  if (err instanceof errors.ResponseError) {
    const body = err.body as { error?: { type?: string; reason?: string } } | undefined;
    const detail = body?.error ? `${body.error.type ?? 'error'}: ${body.error.reason ?? ''}` : err.message;
    return `HTTP ${err.statusCode ?? '?'} ${detail}`;
  }
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
