import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Role } from '../modules/auth/api-keys.models.js';
import type { ApiKeyService, Principal } from '../modules/auth/api-keys.service.js';
import { AppError, forbidden, unauthorized } from '../shared/errors.js';
import type { AuthFailureLimiter } from './auth-failures.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

export type Guard = (roles: readonly Role[]) => onRequestHookHandler;

/**
 * Builds the per-route guard: authenticate the bearer key, then check the route's roles. With a
 * failure limiter, an address past its budget of wrong keys is refused (429) before its key is
 * looked up; a key verified a moment ago skips that check, so a busy desk pays no extra trip.
 */
export function createGuard(apiKeys: ApiKeyService, failures?: AuthFailureLimiter): Guard {
  return (roles) =>
    async function guard(request: FastifyRequest, reply: FastifyReply) {
      const token = bearerToken(request);
      if (!token) throw unauthorized();
      if (failures && !apiKeys.recentlyVerified(token)) {
        const waitMs = await failures.blockedFor(request.ip);
        if (waitMs > 0) {
          const seconds = Math.ceil(waitMs / 1000);
          void reply.header('retry-after', String(seconds));
          throw new AppError(429, 'too-many-failed-authentications', 'Too many requests', `Too many failed authentications from this address; retry in ${seconds} s.`, [
            { field: 'header.authorization', message: 'too many wrong keys from this address' },
          ]);
        }
      }
      const principal = await apiKeys.authenticate(token);
      if (!principal) {
        await failures?.record(request.ip);
        throw unauthorized('The API key is unknown or revoked.');
      }
      if (!roles.includes(principal.role)) {
        throw forbidden(`This route needs one of the roles ${roles.join(', ')}; the key has role ${principal.role}.`);
      }
      request.principal = principal;
    };
}

/** The principal of a guarded route; guarded routes always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}
