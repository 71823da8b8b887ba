import { randomBytes } from 'node:crypto';
import fastifyCookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { MANAGERS } from '../modules/auth/api-keys.models.js';
import type { Clock } from '../shared/clock.js';
import { AppError } from '../shared/errors.js';
import { activeAgentByEmail, subjectKeyId } from './oidc.js';
import { base64url, createOidcClient, OidcLoginError, sameSecret, type OidcClient } from './oidc-client.js';
import { escapeHtml, OIDC_START_PATH, sendLoginPage } from './session-page.js';
import { landing } from './session-routes.js';
import { safeNextPath, type Sessions } from './session.js';
import { problemResponses, type App } from './types.js';

/*
 * "Sign in with <provider>" on the sign-in page (/admin/login, where /ops and /admin/queues send
 * a person without a session): the OpenID Connect authorization code flow with PKCE (S256),
 * state and nonce.
 *
 *   GET /auth/oidc/start?next=/ops    makes state, nonce and the PKCE verifier, keeps them in the
 *                                     short-lived cookie cd_oidc (signed with the session secret,
 *                                     HttpOnly, SameSite=Lax so that it comes back with the
 *                                     provider's redirect, Path=/auth/oidc, 10 minutes), and
 *                                     redirects to the provider.
 *   GET /auth/oidc/callback?code&state the cookie's state must equal the answer's (compared in
 *                                     constant time); the code is exchanged (with the verifier)
 *                                     for an ID token, which is verified (oidc-client.ts); the
 *                                     role claim must be supervisor or admin and the e-mail an
 *                                     active agent's. Then the same session as the API-key form
 *                                     (session.ts signIn, the same SESSION_SECRET), recording the
 *                                     issuer and subject.
 *
 * The callback answers a small page that moves on to `next` itself rather than a redirect: the
 * session cookie is SameSite=Strict, and a browser does not send it on a navigation that began
 * at the provider's site (the redirect chain is cross-site); the page's own navigation is
 * same-site. Refusals show the sign-in form with the reason (4xx; 502 when the provider cannot
 * be reached), or a problem+json answer to a client that does not ask for HTML. Codes, tokens
 * and the client secret reach neither a page nor a log (src/shared/logger.ts censors the
 * callback's query).
 */

export const OIDC_CALLBACK_PATH = '/auth/oidc/callback';
const FLOW_COOKIE = 'cd_oidc';
const FLOW_COOKIE_PATH = '/auth/oidc';
/** How long a person may take at the provider (login, consent) before the sign-in must start again. */
const FLOW_TTL_MS = 10 * 60_000;

/** The interactive sign-in's settings, when OIDC_ISSUER and OIDC_CLIENT_ID are set. */
export interface OidcLogin {
  label: string;
  issuer: string;
  roleClaim: string;
  client: OidcClient;
  /** The redirect URI: OIDC_REDIRECT_URL, else PUBLIC_BASE_URL's, else this server's address as the browser used it. */
  redirectUri(request: FastifyRequest): string;
}

export function createOidcLogin(config: Config, clock: Clock): OidcLogin | undefined {
  if (!config.OIDC_ISSUER || !config.OIDC_CLIENT_ID) return undefined;
  const fixed = config.OIDC_REDIRECT_URL ?? (config.PUBLIC_BASE_URL ? new URL(OIDC_CALLBACK_PATH, config.PUBLIC_BASE_URL).toString() : undefined);
  return {
    label: config.OIDC_PROVIDER_NAME ?? new URL(config.OIDC_ISSUER).hostname,
    issuer: config.OIDC_ISSUER,
    roleClaim: config.OIDC_ROLE_CLAIM,
    client: createOidcClient({
      issuer: config.OIDC_ISSUER,
      clientId: config.OIDC_CLIENT_ID,
      clientSecret: config.OIDC_CLIENT_SECRET,
      scopes: config.OIDC_SCOPES,
      jwksUrl: config.OIDC_JWKS_URL,
      roleClaim: config.OIDC_ROLE_CLAIM,
      timeoutMs: config.OIDC_HTTP_TIMEOUT_MS,
      clock,
    }),
    redirectUri: (request) => fixed ?? `${request.protocol}://${request.host}${OIDC_CALLBACK_PATH}`,
  };
}

/** What the flow cookie carries between start and callback. */
const flowSchema = z.object({
  /** state */ s: z.string(),
  /** nonce */ n: z.string(),
  /** PKCE code verifier */ v: z.string(),
  /** redirect URI sent to the provider (the token request must repeat it) */ r: z.string(),
  /** where to land */ x: z.string().optional(),
  /** started at (ms) */ t: z.number(),
});
type Flow = z.infer<typeof flowSchema>;

const wantsHtml = (request: FastifyRequest) => /\btext\/html\b/i.test(request.headers.accept ?? '');
const random = () => base64url(randomBytes(32));

export function registerOidcLoginRoutes(app: App, deps: { login: OidcLogin | undefined; sessions: Sessions; secret: () => Promise<string>; clock: Clock; db: Database }): void {
  const { login, sessions, clock } = deps;
  const tags = ['sessions'];

  const flowCookie = (request: FastifyRequest) => ({ path: FLOW_COOKIE_PATH, httpOnly: true, sameSite: 'lax' as const, secure: request.protocol === 'https' });

  async function readFlow(request: FastifyRequest): Promise<Flow | undefined> {
    const raw = request.cookies?.[FLOW_COOKIE];
    if (!raw) return undefined;
    const unsigned = fastifyCookie.unsign(raw, await deps.secret());
    if (!unsigned.valid || !unsigned.value) return undefined;
    try {
      const parsed = flowSchema.safeParse(JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** A refusal: the sign-in form with the reason for a browser, problem+json for anything else. */
  function refuse(request: FastifyRequest, reply: FastifyReply, error: OidcLoginError, next: string | undefined) {
    request.log.info({ oidcRefusal: error.reason, status: error.status }, 'oidc sign-in refused');
    if (!wantsHtml(request)) throw new AppError(error.status, `oidc-${error.reason}`, error.status === 502 ? 'Bad Gateway' : 'Sign-in refused', error.message);
    return sendLoginPage(reply, error.status, { next, error: error.message, oidc: login ? { label: login.label } : undefined });
  }

  const notConfigured = () => new OidcLoginError(404, 'not-configured', 'Single sign-on is not configured on this server; sign in with an API key.');

  app.get(OIDC_START_PATH, {
    schema: {
      tags,
      summary: 'Start the OIDC sign-in of the ops wall and Bull Board: redirects (303) to the provider (authorization code flow with PKCE)',
      description:
        'Start the OIDC sign-in (for people, from the sign-in page\'s "Sign in with …"): sets the short-lived cookie cd_oidc (state, nonce, PKCE verifier; HttpOnly, SameSite=Lax, Path=/auth/oidc) and redirects (303) to the provider\'s authorization endpoint. 404 when OIDC_ISSUER and OIDC_CLIENT_ID are not set, 502 when the provider\'s discovery document cannot be read. A browser (Accept: text/html) gets the sign-in page with the reason instead of problem+json.',
      querystring: z.object({ next: z.string().max(2048).optional().describe('Where to land after the sign-in: a path on this server (/ops); anything else is ignored') }),
      response: { 303: z.null().describe('To the provider: the Location header carries the authorization request'), ...problemResponses(404, 502) },
    },
    handler: async (request, reply) => {
      const next = safeNextPath(request.query.next);
      if (!login) return refuse(request, reply, notConfigured(), next);
      const flow: Flow = { s: random(), n: random(), v: random(), r: login.redirectUri(request), x: next, t: clock.now().getTime() };
      let location: string;
      try {
        location = await login.client.authorizationUrl({ state: flow.s, nonce: flow.n, codeVerifier: flow.v, redirectUri: flow.r });
      } catch (error) {
        if (error instanceof OidcLoginError) return refuse(request, reply, error, next);
        throw error;
      }
      const value = fastifyCookie.sign(Buffer.from(JSON.stringify(flow)).toString('base64url'), await deps.secret());
      void reply.setCookie(FLOW_COOKIE, value, { ...flowCookie(request), maxAge: FLOW_TTL_MS / 1000 });
      return reply.header('cache-control', 'no-store').redirect(location, 303);
    },
  });

  app.get(OIDC_CALLBACK_PATH, {
    schema: {
      tags,
      summary: "The OIDC provider's redirect back after sign-in: opens the browser session (cookie cd_session) and moves on to the page asked for",
      description:
        "Where the OIDC provider sends the browser back (the redirect URI to register at the provider). The state must match the cd_oidc cookie's; the code is exchanged for an ID token, verified (issuer, audience = OIDC_CLIENT_ID, nonce, expiry, email_verified), whose role claim (OIDC_ROLE_CLAIM) must be supervisor or admin and whose e-mail an active agent's. Then the session cookie cd_session is set and a small page moves on to the page asked for. Refusals (consent denied, a stale or foreign state, an expired or foreign token, an unverified e-mail, an agent's role) are 4xx: the sign-in page with the reason for a browser, problem+json otherwise; 502 when the provider cannot be reached. The query is censored in logs.",
      querystring: z.object({
        code: z.string().max(4096).optional().describe('The authorization code (single use)'),
        state: z.string().max(1024).optional().describe('The state sent with the authorization request'),
        iss: z.string().max(2048).optional().describe('The issuer (RFC 9207), when the provider sends it'),
        error: z.string().max(256).optional().describe('The provider\'s error code (access_denied when consent was refused)'),
        error_description: z.string().max(2048).optional().describe('Ignored (the provider\'s own text is not shown)'),
      }),
      response: problemResponses(404, 502),
    },
    handler: async (request, reply) => {
      const flow = await readFlow(request);
      // One use: whatever happens next, this flow is over.
      if (flow) void reply.clearCookie(FLOW_COOKIE, flowCookie(request));
      const next = flow?.x;
      try {
        if (!login) throw notConfigured();
        if (!flow) throw new OidcLoginError(400, 'no-flow', 'This sign-in was not started in this browser, or it was already used. Sign in again.');
        if (clock.now().getTime() - flow.t > FLOW_TTL_MS) throw new OidcLoginError(400, 'flow-expired', 'The sign-in took too long (more than 10 minutes). Sign in again.');
        const query = request.query;
        if (!query.state || !sameSecret(query.state, flow.s)) throw new OidcLoginError(400, 'state-mismatch', 'The answer from the sign-in provider does not belong to this sign-in (state). Sign in again.');
        if (query.iss !== undefined && query.iss.replace(/\/$/, '') !== login.issuer.replace(/\/$/, '')) throw new OidcLoginError(400, 'issuer', 'The answer came from another sign-in provider (issuer). Sign in again.');
        if (query.error !== undefined) {
          if (query.error === 'access_denied') throw new OidcLoginError(403, 'access-denied', `The sign-in was cancelled or refused at ${login.label}.`);
          throw new OidcLoginError(400, 'provider-error', `${login.label} could not sign you in (${/^[\w.-]{1,64}$/.test(query.error) ? query.error : 'error'}).`);
        }
        if (!query.code) throw new OidcLoginError(400, 'no-code', 'The answer from the sign-in provider carries no code. Sign in again.');

        const idToken = await login.client.exchange({ code: query.code, codeVerifier: flow.v, redirectUri: flow.r });
        const identity = await login.client.verifyIdToken(idToken, flow.n);
        if (!identity.role) throw new OidcLoginError(403, 'no-role', `Your account at ${login.label} has no role for complaint-desk (its ${login.roleClaim} claim names none of admin, supervisor, agent).`);
        if (!MANAGERS.includes(identity.role)) {
          throw new OidcLoginError(403, 'role', `The ops wall and Bull Board are for supervisors and admins; your account at ${login.label} has the role ${identity.role}.`);
        }
        const agent = await activeAgentByEmail(deps.db, identity.email);
        if (!agent) throw new OidcLoginError(403, 'no-agent', 'No active agent of complaint-desk has your e-mail address; ask an admin to add you.');

        await sessions.signIn(request, reply, {
          keyId: subjectKeyId(identity.issuer, identity.subject),
          name: agent.name,
          role: identity.role,
          agentId: agent.id,
          apiKeyId: null,
          oidc: { issuer: identity.issuer, subject: identity.subject },
        });
        request.log.info({ agentId: agent.id, role: identity.role }, 'oidc sign-in');
        return sendContinuePage(reply, next ?? landing(identity.role));
      } catch (error) {
        if (error instanceof OidcLoginError) return refuse(request, reply, error, next);
        throw error;
      }
    },
  });
}

/**
 * After the sign-in: a page that navigates to `next` on its own (meta refresh; no script, the
 * CSP allows none), so that the SameSite=Strict session cookie goes with that navigation.
 */
function sendContinuePage(reply: FastifyReply, next: string): FastifyReply {
  const nonce = randomBytes(16).toString('base64');
  const target = escapeHtml(next);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="0;url=${target}">
<title>Signed in · complaint-desk</title>
<style nonce="${nonce}">body{font:16px/1.4 system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}</style>
</head><body><h1>complaint-desk</h1><p id="signed-in">Signed in. <a href="${target}">Continue</a></p></body></html>`;
  return reply
    .code(200)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'same-origin')
    .header('content-security-policy', `default-src 'none'; style-src 'nonce-${nonce}'; frame-ancestors 'none'; base-uri 'none'`)
    .send(html);
}
