/*
 * Browser sessions: how a person (not a script) signs in to the pages this server renders,
 * Bull Board under /admin/queues and the ops wall under /ops.
 *
 * A person signs in at GET /admin/login?next=/ops with an admin or supervisor API key (the form
 * posts to POST /admin/login); the answer sets the cookie `cd_session` (HttpOnly,
 * SameSite=Strict, Secure over HTTPS, one copy with Path=/admin and one with Path=/ops, so the
 * API under /v1 never sees it) and redirects to `next` (same-origin relative paths only).
 * POST /admin/logout ends the session. The cookie value is a random session id signed with the
 * session secret (SESSION_SECRET, else one generated once and kept in the database); the
 * session row (browser_sessions) holds the principal, so logout and key revocation take effect.
 *
 * For a page of your own (the ops wall):
 *   const sessions = createSessions(...)          // app.ts builds one and passes it along
 *   app.get('/ops', { onRequest: sessions.guard(MANAGERS) }, handler)
 *     - an Authorization: Bearer header is checked as on /v1 (scripts keep working);
 *     - else the cookie's session must have one of the roles (403 problem if not);
 *     - else a browser navigation (GET accepting text/html) is redirected (303) to
 *       sessions.loginUrl(request.url), anything else gets a 401 problem.
 *     The hook answers problems itself (works under plugins with their own error handler) and
 *     sets request.principal, so principalOf(request) works in the handler.
 *   await sessions.sessionFromRequest(request)   // Principal | null, from the cookie alone
 */
import fastifyCookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Role } from '../modules/auth/api-keys.models.js';
import type { Principal } from '../modules/auth/api-keys.service.js';
import type { SessionService } from '../modules/sessions/sessions.service.js';
import { AppError, forbidden, unauthorized } from '../shared/errors.js';
import type { Guard } from './auth.js';
import { bearerToken } from './auth.js';
import { problemOf, sendProblem } from './problem.js';

export const SESSION_COOKIE = 'cd_session';
/** Where the cookie is sent: the server-rendered pages, never the API. */
export const SESSION_COOKIE_PATHS = ['/admin', '/ops'] as const;
export const LOGIN_PATH = '/admin/login';
export const LOGOUT_PATH = '/admin/logout';

export interface Sessions {
  /** The principal of the request's session cookie (valid signature, live session, key not revoked), else null. */
  sessionFromRequest(request: FastifyRequest): Promise<Principal | null>;
  /** An onRequest hook for pages: bearer header or session cookie with one of the roles (see above). */
  guard(roles: readonly Role[]): onRequestHookHandler;
  /** The login form's URL that comes back to `next` after sign-in. */
  loginUrl(next: string): string;
  /** Opens a session for the principal and sets its cookie on the reply. */
  signIn(request: FastifyRequest, reply: FastifyReply, principal: Parameters<SessionService['open']>[0]): Promise<void>;
  /** Ends the request's session (if any) and clears its cookie. */
  signOut(request: FastifyRequest, reply: FastifyReply): Promise<void>;
}

/**
 * `next` as given to the login form, if it is a path on this server ("/ops", "/admin/queues/"):
 * never another origin ("//evil.example", "https://…", "/\evil"), so the form is no open redirect.
 */
export function safeNextPath(next: unknown): string | undefined {
  if (typeof next !== 'string' || next.length === 0 || next.length > 2048) return undefined;
  if (!next.startsWith('/') || next.startsWith('//') || [...next].some((c) => c === '\\' || c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return undefined;
  const base = 'http://same.invalid';
  try {
    const url = new URL(next, base);
    return url.origin === base ? url.pathname + url.search : undefined;
  } catch {
    return undefined;
  }
}

/** Whether an unsafe request carrying the cookie comes from our own pages (SameSite=Strict aside). */
export function sameOriginRequest(request: FastifyRequest): boolean {
  // Sec-Fetch-Site, when the browser sends it, says it exactly. Origin is the fallback: browsers
  // send "null" under Referrer-Policy: no-referrer (helmet's default), so only a real other
  // origin counts against a request there.
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' || site === 'none';
  const origin = request.headers.origin;
  if (typeof origin === 'string' && origin !== `${request.protocol}://${request.host}`) return false;
  return true;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function createSessions(deps: { sessions: SessionService; secret: () => Promise<string>; guard: Guard; ttlHours: number; reauthorizeMs?: number }): Sessions {
  const { sessions } = deps;

  async function sessionId(request: FastifyRequest): Promise<string | undefined> {
    const raw = request.cookies?.[SESSION_COOKIE];
    if (!raw) return undefined;
    const unsigned = fastifyCookie.unsign(raw, await deps.secret());
    return unsigned.valid ? unsigned.value : undefined;
  }

  const cookieOptions = (request: FastifyRequest, path: string) => ({
    path,
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: request.protocol === 'https',
  });

  const sessionFromRequest = async (request: FastifyRequest): Promise<Principal | null> => {
    const id = await sessionId(request);
    return id ? sessions.principal(id) : null;
  };

  return {
    sessionFromRequest,

    guard(roles) {
      const bearerGuard = deps.guard(roles);
      return async function sessionGuard(this: unknown, request: FastifyRequest, reply: FastifyReply) {
        try {
          if (bearerToken(request) !== undefined || request.headers.authorization !== undefined) {
            await bearerGuard.call(this as never, request, reply, () => undefined);
            return;
          }
          const principal = await sessionFromRequest(request);
          if (!principal) {
            const navigation = request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
            if (navigation) return reply.redirect(loginUrl(request.url), 303);
            throw unauthorized('Sign in at /admin/login (a session cookie) or send "Authorization: Bearer <key>".');
          }
          if (!roles.includes(principal.role)) throw forbidden(`This page needs one of the roles ${roles.join(', ')}; the session has role ${principal.role}.`);
          if (!SAFE_METHODS.has(request.method) && !sameOriginRequest(request)) {
            throw new AppError(403, 'cross-site-request', 'Forbidden', 'A request with the session cookie must come from this server\'s own pages.');
          }
          request.principal = principal;
          // Signed out, revoked or expired since: a stream opened with this session ends.
          request.reauthorize = { everyMs: deps.reauthorizeMs ?? 30_000, check: async () => (await sessionFromRequest(request).catch(() => null)) !== null };
        } catch (error) {
          return sendProblem(reply, problemOf(error, request));
        }
      };
    },

    loginUrl,

    async signIn(request, reply, principal) {
      const { id } = await sessions.open(principal);
      const value = fastifyCookie.sign(id, await deps.secret());
      for (const path of SESSION_COOKIE_PATHS) void reply.setCookie(SESSION_COOKIE, value, { ...cookieOptions(request, path), maxAge: deps.ttlHours * 3600 });
    },

    async signOut(request, reply) {
      const id = await sessionId(request);
      if (id) await sessions.close(id);
      for (const path of SESSION_COOKIE_PATHS) void reply.clearCookie(SESSION_COOKIE, cookieOptions(request, path));
    },
  };
}

function loginUrl(next: string): string {
  const path = safeNextPath(next);
  return path ? `${LOGIN_PATH}?next=${encodeURIComponent(path)}` : LOGIN_PATH;
}
