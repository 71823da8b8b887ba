import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { ROLES, STAFF, STAFF_AND_INTEGRATIONS, type Role } from '../auth/api-keys.models.js';
import type { Principal } from '../auth/api-keys.service.js';

/*
 * Stream tokens: EventSource cannot send an Authorization header, so a client first asks
 * POST /v1/stream-tokens (with its key) for a token good for 60 seconds and for one stream only,
 * then opens GET <stream>?token=<token>. A token is stateless (any API process verifies it): the
 * caller's principal, the stream's purpose and the expiry, HMAC-signed with a key derived from
 * the session secret. The stream, once open, outlives the token; a reconnect needs a new one.
 * Query values named token are censored in logs and problem bodies (src/shared/logger.ts).
 */

/** The streams a token can open: purpose → path and the roles that may ask for one. A new stream adds a line here. */
export const STREAM_PURPOSES = {
  sla: { path: '/v1/sla/stream', roles: STAFF },
  me: { path: '/v1/me/stream', roles: STAFF },
  events: { path: '/v1/events/stream', roles: STAFF_AND_INTEGRATIONS },
} as const satisfies Record<string, { path: string; roles: readonly Role[] }>;
export type StreamPurpose = keyof typeof STREAM_PURPOSES;
export const STREAM_PURPOSE_NAMES = Object.keys(STREAM_PURPOSES) as [StreamPurpose, ...StreamPurpose[]];

export const STREAM_TOKEN_TTL_MS = 60_000;
const PREFIX = 'cdst_';
const MAX_TOKEN_LENGTH = 2048;

interface Payload {
  /** purpose */
  p: string;
  k: string;
  n: string;
  r: Role;
  a: string | null;
  /** expiry, epoch milliseconds */
  e: number;
}

export type StreamTokenCheck = { ok: true; principal: Principal } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'wrong-stream' };

export function createStreamTokens(deps: { secret: () => Promise<string>; clock: Clock }) {
  // Its own key, derived from the session secret: a stream token is never a valid cookie signature, nor the reverse.
  const keyOf = async () => createHmac('sha256', await deps.secret()).update('complaint-desk stream tokens v1').digest();
  const mac = (key: Buffer, body: string) => createHmac('sha256', key).update(PREFIX).update(body).digest();

  return {
    async issue(principal: Principal, purpose: StreamPurpose): Promise<{ token: string; expiresAt: Date }> {
      const expiresAt = new Date(deps.clock.now().getTime() + STREAM_TOKEN_TTL_MS);
      const payload: Payload = { p: purpose, k: principal.keyId, n: principal.name, r: principal.role, a: principal.agentId, e: expiresAt.getTime() };
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return { token: `${PREFIX}${body}.${mac(await keyOf(), body).toString('base64url')}`, expiresAt };
    },

    async verify(token: string, purpose: string): Promise<StreamTokenCheck> {
      if (token.length > MAX_TOKEN_LENGTH || !token.startsWith(PREFIX)) return { ok: false, reason: 'malformed' };
      const [body, signature, extra] = token.slice(PREFIX.length).split('.');
      if (!body || !signature || extra !== undefined || !/^[A-Za-z0-9_-]+$/.test(body) || !/^[A-Za-z0-9_-]+$/.test(signature)) return { ok: false, reason: 'malformed' };
      const expected = mac(await keyOf(), body);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
      const payload = parsePayload(body);
      if (!payload) return { ok: false, reason: 'malformed' };
      if (payload.e <= deps.clock.now().getTime()) return { ok: false, reason: 'expired' };
      if (payload.p !== purpose) return { ok: false, reason: 'wrong-stream' };
      return { ok: true, principal: { keyId: payload.k, name: payload.n, role: payload.r, agentId: payload.a } };
    },
  };
}

function parsePayload(body: string): Payload | undefined {
  try {
    const value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<Payload>;
    const valid =
      typeof value.p === 'string' &&
      typeof value.k === 'string' &&
      typeof value.n === 'string' &&
      ROLES.includes(value.r as Role) &&
      (value.a === null || typeof value.a === 'string') &&
      typeof value.e === 'number';
    return valid ? (value as Payload) : undefined;
  } catch {
    return undefined;
  }
}

export type StreamTokens = ReturnType<typeof createStreamTokens>;
