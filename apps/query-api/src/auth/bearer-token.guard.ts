import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiConfig } from '@meterstream/config';
import { apiConfig } from '@meterstream/config/nest';
import { IS_PUBLIC } from './public.decorator';

/**
 * When API_TOKEN is set, every route not marked @Public() needs `Authorization: Bearer <token>`.
 * Without API_TOKEN the guard lets everything through: the API only allows that on a
 * loopback address.
 */
@Injectable()
export class BearerTokenGuard implements CanActivate {
  private readonly expectedDigest: Buffer | null;

  constructor(
    private readonly reflector: Reflector,
    @Inject(apiConfig.KEY) config: Pick<ApiConfig, 'API_TOKEN'>,
  ) {
    this.expectedDigest = config.API_TOKEN === undefined ? null : digest(config.API_TOKEN);
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
