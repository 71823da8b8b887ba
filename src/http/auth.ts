import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Role } from '../modules/auth/api-keys.models.js';
import type { ApiKeyService, Principal } from '../modules/auth/api-keys.service.js';
import { AppError, forbidden, unauthorized } from '../shared/errors.js';
import type { StreamTokenCheck, StreamTokens } from '../modules/stream-tokens/stream-tokens.js';
import type { AuthFailureLimiter } from './auth-failures.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
    /**
     * Re-checks the credential this request authenticated with (set by the guards): a long-lived
     * event stream asks it every `everyMs` (STREAM_REAUTHORIZE_SEC) and ends when the key is
     * revoked, the session signed out or the OIDC token expired, instead of running on for hours.
     */
    reauthorize?: { everyMs: number; check(): Promise<boolean> };
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * streamToken: the purpose of the event stream this route serves (src/modules/stream-tokens):
 * a request without an Authorization header may then authenticate with ?token=<stream token>.
 */
export interface GuardOptions {
  streamToken?: string;
}

export type Guard = (roles: readonly Role[], options?: GuardOptions) => onRequestHookHandler;

/** Other credentials than API keys, each optional (issue 14). */
export interface ExtraAuthenticators {
  /** Verifies ?token= on event streams (EventSource cannot send headers). */
  streamTokens?: Pick<StreamTokens, 'verify'>;
  /** A JWT bearer from the configured OIDC issuer (src/http/oidc.ts); null when the token is no JWT. */
  oidc?: { authenticate(token: string): Promise<Principal | null> };
  /** How often an open event stream re-checks the credential (STREAM_REAUTHORIZE_SEC); default 30 s. */
  reauthorizeMs?: number;
}

const STREAM_TOKEN_REFUSALS: Record<Exclude<StreamTokenCheck, { ok: true }>['reason'], string> = {
  malformed: 'is not a stream token',
  'bad-signature': 'was not issued by this service',
  expired: 'has expired (tokens last 60 s): ask POST /v1/stream-tokens for a new one',
  'wrong-stream': 'was issued for another stream',
};

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
export function createGuard(apiKeys: ApiKeyService, failures?: AuthFailureLimiter, countRefused?: RefusalCounter, extra: ExtraAuthenticators = {}): Guard {
  const inFlight = new Map<string, Promise<Principal | null>>();
  const reauthorizeMs = extra.reauthorizeMs ?? 30_000;

  async function authenticateAttempt(token: string, request: FastifyRequest, reply: FastifyReply): Promise<Principal | null> {
    // A JWT (three dot-separated parts; API keys have no dot) goes to OIDC when it is configured.
    if (extra.oidc && token.split('.').length === 3) return extra.oidc.authenticate(token);
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

  async function streamTokenPrincipal(request: FastifyRequest, purpose: string): Promise<Principal | null> {
    const token = (request.query as Record<string, unknown> | undefined)?.token;
    if (token === undefined || request.headers.authorization !== undefined || !extra.streamTokens) return null;
    const check = typeof token === 'string' ? await extra.streamTokens.verify(token, purpose) : ({ ok: false, reason: 'malformed' } as const);
    if (check.ok) {
      // A token outlives nothing: the key it was issued to, revoked since, opens no stream.
      if (await apiKeys.isRevoked(check.principal.keyId)) throw unauthorized('The API key this stream token was issued to has been revoked.');
      return check.principal;
    }
    const message = STREAM_TOKEN_REFUSALS[check.reason];
    throw new AppError(401, 'invalid-stream-token', 'Unauthorized', `The stream token ${message}.`, [{ field: 'query.token', message }]);
  }

  return (roles, options = {}) =>
    async function guard(request: FastifyRequest, reply: FastifyReply) {
      const fromStreamToken = options.streamToken ? await streamTokenPrincipal(request, options.streamToken) : null;
      if (fromStreamToken) {
        if (!roles.includes(fromStreamToken.role)) throw forbidden(`This stream needs one of the roles ${roles.join(', ')}; the token has role ${fromStreamToken.role}.`);
        request.principal = fromStreamToken;
        request.reauthorize = { everyMs: reauthorizeMs, check: async () => !(await apiKeys.isRevoked(fromStreamToken.keyId)) };
        return;
      }
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
      request.reauthorize = {
        everyMs: reauthorizeMs,
        check: async () => {
          const again = extra.oidc && token.split('.').length === 3 ? extra.oidc.authenticate(token) : apiKeys.authenticate(token);
          return (await again.catch(() => null)) !== null;
        },
      };
    };
}

/** The principal of a guarded route; guarded routes always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized();
  return request.principal;
}
