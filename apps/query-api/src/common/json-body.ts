import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestException, HttpException, PayloadTooLargeException, UnsupportedMediaTypeException } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { nestingDepth } from '@meterstream/contracts';

/**
 * Request bodies: JSON only, at most MAX_BODY_BYTES and MAX_BODY_DEPTH levels deep. Whatever a
 * client sends, the answer is a 4xx in the API's error shape that says what to send instead,
 * never a 500: a deeply nested body used to reach the validation pipe, whose recursion overflowed
 * the stack. The nesting is measured on the bytes before anything recursive sees them.
 */

/** The one body the API takes (an acknowledgement) is well under 1 KiB. */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_BODY_DEPTH = 32;

type Next = (err?: unknown) => void;
type Request = IncomingMessage & { body?: unknown };

/** Installs the body handling on an app created with `bodyParser: false`, before its routes. */
export function installJsonBodyParsing(app: NestExpressApplication): void {
  app.use(refuseNonJsonBodies);
  // Raw bytes, so the depth check runs before JSON.parse; the parser enforces the limit (after
  // inflating a gzip or deflate body) and answers entity.too.large without buffering more.
  app.useBodyParser('raw', { type: () => true, limit: MAX_BODY_BYTES });
  app.use(parseJsonBody);
  app.use(bodyParserErrors);
}

/** 415 for a body that is not UTF-8 JSON, before reading it: form posts, text, other charsets. */
function refuseNonJsonBodies(req: Request, _res: ServerResponse, next: Next): void {
  if (!carriesBody(req)) return next();
  const header = req.headers['content-type'];
  const [mediaType = '', ...params] = (header ?? '').split(';').map((part) => part.trim().toLowerCase());
  const isJson = mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
  if (!isJson) {
    return next(
      new UnsupportedMediaTypeException(
        `the request body must be JSON: send Content-Type: application/json${header === undefined ? ' (the request has no Content-Type)' : `, not ${JSON.stringify(header)}`}`,
      ),
    );
  }
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return next(new UnsupportedMediaTypeException(`the request body must be UTF-8 JSON: send Content-Type: application/json; charset=utf-8, not charset=${charset}`));
  }
  next();
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Turns the raw bytes into the parsed body, or a 400 saying what is wrong with them. */
function parseJsonBody(req: Request, _res: ServerResponse, next: Next): void {
  if (!Buffer.isBuffer(req.body)) return next();
  const bytes = req.body;
  req.body = undefined;
  if (bytes.length === 0) {
    req.body = {};
    return next();
  }
  if (nestingDepth(bytes) > MAX_BODY_DEPTH) {
    return next(new BadRequestException(`the request body nests objects and arrays more than ${MAX_BODY_DEPTH} levels deep: send at most ${MAX_BODY_DEPTH} levels`));
  }
  let text: string;
  try {
    // Also drops a leading byte order mark, as JSON parsers commonly accept one.
    text = strictUtf8.decode(bytes);
  } catch {
    return next(new BadRequestException('the request body is not valid UTF-8: send UTF-8 encoded JSON'));
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return next(new BadRequestException(`the request body is not valid JSON (${(err as Error).message}): send a JSON object such as ${EXAMPLE}`));
  }
  // Every body the API takes is an object; anything else would only yield a confusing field error.
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    const got = body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`;
    return next(new BadRequestException(`the request body must be a JSON object such as ${EXAMPLE}, got ${got}`));
  }
  req.body = body;
  next();
}

const EXAMPLE = '{"by": "dispatch-ana"}';

/**
 * Maps the body parser's own errors (http-errors with a `type`) to the API's error shape; the
 * framework's error handler, installed after the routes, renders them.
 */
function bodyParserErrors(err: unknown, _req: Request, _res: ServerResponse, next: Next): void {
  if (err instanceof HttpException || !(err instanceof Error)) return next(err);
  const { type, status, length } = err as Error & { type?: string; status?: number; length?: number };
  if (type === 'entity.too.large') {
    const got = typeof length === 'number' && Number.isFinite(length) ? `; this one is ${length} bytes` : '';
    return next(new PayloadTooLargeException(`the request body may be at most ${MAX_BODY_BYTES} bytes (${MAX_BODY_BYTES / 1024} KiB)${got}`));
  }
  if (type === 'encoding.unsupported') {
    return next(new UnsupportedMediaTypeException(`${err.message}: send the body uncompressed, or with Content-Encoding gzip or deflate`));
  }
  // Aborted or truncated uploads and the like: the parser's message is written for clients.
  if (typeof status === 'number' && status >= 400 && status < 500) return next(new HttpException(err.message, status));
  next(err);
}

function carriesBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = Number(req.headers['content-length']);
  return Number.isFinite(length) && length > 0;
}

