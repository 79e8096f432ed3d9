import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { IS_PUBLIC } from './public.decorator';

/** The token (API_TOKEN) a service's HTTP routes require; undefined: none (loopback only). */
export const BEARER_TOKEN = Symbol('BearerToken');

/**
 * When a token is configured, every route not marked @Public() needs `Authorization: Bearer
 * <token>`. Without one the guard lets everything through: the services allow that only on a
 * loopback address (the API's HOST, METRICS_HOST).
 */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  private readonly expectedDigest: Buffer | null;

  constructor(
    private readonly reflector: Reflector,
    @Inject(BEARER_TOKEN) token: string | undefined,
  ) {
    this.expectedDigest = token === undefined ? null : digest(token);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expectedDigest === null) return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;

    const http = context.switchToHttp();
    const header = http.getRequest<IncomingMessage>().headers.authorization;
    const token = header === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    // Comparing fixed-length digests in constant time leaks neither the token nor its length.
    if (token !== undefined && timingSafeEqual(digest(token), this.expectedDigest)) return true;

    http.getResponse<ServerResponse>().setHeader('WWW-Authenticate', 'Bearer realm="meterstream"');
    throw new UnauthorizedException(
      header === undefined
        ? 'missing Authorization header: send Authorization: Bearer <API_TOKEN>'
        : 'invalid bearer token: send Authorization: Bearer <API_TOKEN> with the token the server was started with',
    );
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
