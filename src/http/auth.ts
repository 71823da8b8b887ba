import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Role } from '../modules/auth/api-keys.models.js';
import type { ApiKeyService, Principal } from '../modules/auth/api-keys.service.js';
import { forbidden, unauthorized } from '../shared/errors.js';

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

/** Builds the per-route guard: authenticate the bearer key, then check the route's roles. */
export function createGuard(apiKeys: ApiKeyService): Guard {
  return (roles) =>
    async function guard(request: FastifyRequest, _reply: FastifyReply) {
      const token = bearerToken(request);
      if (!token) throw unauthorized();
      const principal = await apiKeys.authenticate(token);
      if (!principal) throw unauthorized('The API key is unknown or revoked.');
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
