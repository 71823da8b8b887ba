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
 * Counts a request the guard refuses against the request budget it belongs to (the verified
 * key's when one verified, else the address's); answers the seconds to wait when that budget is
 * spent, else 0. The rate-limit plugin counts the others, after the guard: without this, a
 * request with no key, or with a key of the wrong role, would never be counted at all.
 */
export type RefusalCounter = (request: FastifyRequest) => Promise<number>;

function tooManyRequests(reply: FastifyReply, seconds: number): AppError {
  void reply.header('retry-after', String(seconds));
  return new AppError(429, 'rate-limited', 'Too many requests', `Rate limit exceeded; retry in ${seconds} s.`);
}

/**
 * Builds the per-route guard: authenticate the bearer key, then check the route's roles. With a
 * failure limiter, every lookup of a key not verified a moment ago first takes an attempt from
 * the address's budget (given back when the key verifies), so an address past its budget of
 * wrong keys is refused (429) before its key is looked up, however many it sends at once.
 * Concurrent requests with the same token in this process share one attempt and one lookup.
 */
export function createGuard(apiKeys: ApiKeyService, failures?: AuthFailureLimiter, countRefused?: RefusalCounter): Guard {
  const inFlight = new Map<string, Promise<Principal | null>>();

  async function authenticateAttempt(token: string, request: FastifyRequest, reply: FastifyReply): Promise<Principal | null> {
    if (!failures || apiKeys.recentlyVerified(token)) return apiKeys.authenticate(token);
    const pending = inFlight.get(token);
    if (pending) return pending;
    const waitMs = await failures.attempt(request.ip);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      void reply.header('retry-after', String(seconds));
      throw new AppError(429, 'too-many-failed-authentications', 'Too many requests', `Too many failed authentications from this address; retry in ${seconds} s.`, [
        { field: 'header.authorization', message: 'too many wrong keys from this address' },
      ]);
    }
    const lookup = apiKeys.authenticate(token);
    inFlight.set(token, lookup);
    let principal: Principal | null;
    try {
      principal = await lookup;
    } catch (error) {
      // An outage during the lookup is no failed authentication.
      await failures.release(request.ip);
      throw error;
    } finally {
      inFlight.delete(token);
    }
    // Only a key that did not verify stays counted.
    if (principal) await failures.release(request.ip);
    return principal;
  }

  return (roles) =>
    async function guard(request: FastifyRequest, reply: FastifyReply) {
      const token = bearerToken(request);
      if (!token) {
        const seconds = countRefused ? await countRefused(request) : 0;
        if (seconds > 0) throw tooManyRequests(reply, seconds);
        throw unauthorized();
      }
      const principal = await authenticateAttempt(token, request, reply);
      if (!principal) throw unauthorized('The API key is unknown or revoked.');
      if (!roles.includes(principal.role)) {
        // Counted against the key's own budget: a key cannot probe routes it may not use for free.
        request.principal = principal;
        const seconds = countRefused ? await countRefused(request) : 0;
        request.principal = null;
        if (seconds > 0) throw tooManyRequests(reply, seconds);
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
