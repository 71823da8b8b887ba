import type { FastifyReply, FastifyRequest } from 'fastify';
import { MANAGERS } from '../modules/auth/api-keys.models.js';
import type { ApiKeyService } from '../modules/auth/api-keys.service.js';
import type { AuthFailureLimiter } from './auth-failures.js';
import { sendLoginPage, type LoginPage } from './session-page.js';
import { LOGIN_PATH, LOGOUT_PATH, safeNextPath, sameOriginRequest, type Sessions } from './session.js';
import type { App } from './types.js';

const MAX_FORM_BYTES = 4096;

/** Where a person lands after sign-in when the form named no `next`. */
export const landing = (role: string) => (role === 'admin' ? '/admin/queues/' : '/ops');

/**
 * The sign-in form and sign-out for browser sessions (src/http/session.ts says how pages use
 * them). HTML pages for people, so they stay out of the OpenAPI document, like Bull Board.
 */
export async function registerSessionRoutes(
  app: App,
  deps: { apiKeys: ApiKeyService; sessions: Sessions; failures?: AuthFailureLimiter | undefined; oidc?: { label: string } | undefined },
): Promise<void> {
  const { sessions, apiKeys, failures } = deps;
  // Every version of the form offers the OIDC sign-in when it is configured.
  const sendPage = (reply: FastifyReply, status: number, page: LoginPage) => sendLoginPage(reply, status, { ...page, oidc: deps.oidc });

  await app.register(async (scope) => {
    // The form posts application/x-www-form-urlencoded; only these two routes read it.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    scope.get(LOGIN_PATH, { schema: { hide: true } }, async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const signedIn = await sessions.sessionFromRequest(request);
      return sendPage(reply, 200, { next: safeNextPath(query.next), signedIn });
    });

    scope.post(LOGIN_PATH, { schema: { hide: true } }, async (request, reply) => {
      const form = formOf(request);
      const next = safeNextPath(form.next);
      // A page elsewhere may not sign a visitor in (login CSRF): only our own form posts here.
      if (!sameOriginRequest(request)) return sendPage(reply, 403, { next, error: 'Sign in from this page.' });
      const key = typeof form.key === 'string' ? form.key.trim() : '';
      if (!key) return sendPage(reply, 400, { next, error: 'Enter an API key.' });
      if (failures) {
        const waitMs = await failures.attempt(request.ip);
        if (waitMs > 0) {
          void reply.header('retry-after', String(Math.ceil(waitMs / 1000)));
          return sendPage(reply, 429, { next, error: 'Too many wrong keys from this address; wait a minute.' });
        }
      }
      const principal = await apiKeys.authenticate(key);
      if (!principal) return sendPage(reply, 401, { next, error: 'This API key is unknown or revoked.' });
      if (failures) await failures.release(request.ip);
      if (!MANAGERS.includes(principal.role)) return sendPage(reply, 403, { next, error: `Sign in with an admin or supervisor key; this key has role ${principal.role}.` });
      await sessions.signIn(request, reply, { ...principal, apiKeyId: principal.keyId });
      return reply.redirect(next ?? landing(principal.role), 303);
    });

    scope.post(LOGOUT_PATH, { schema: { hide: true } }, async (request, reply) => {
      if (!sameOriginRequest(request)) return sendPage(reply, 403, { next: undefined, error: 'Sign out from this page.' });
      await sessions.signOut(request, reply);
      return reply.redirect(LOGIN_PATH, 303);
    });
  });
}

function formOf(request: FastifyRequest): Record<string, unknown> {
  return request.body !== null && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : {};
}
