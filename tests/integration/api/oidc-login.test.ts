import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { SESSION_COOKIE } from '../../../src/http/session.js';
import { browserSessions } from '../../../src/modules/sessions/sessions.table.js';
import { ManualClock } from '../../../src/shared/clock.js';
import { configuredSecrets, createLogger } from '../../../src/shared/logger.js';
import { createAgent, type AgentJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { startOidcProvider, type NextSignIn, type TestOidcProvider } from '../../helpers/oidc-provider.js';

/*
 * The interactive OIDC sign-in (issue 17) against a real provider on a port (tests/helpers/
 * oidc-provider.ts): the app's start and callback routes through inject, the provider's
 * /authorize and /token over HTTP, as a browser and the app would call them.
 */

let ctx: TestContext;
let idp: TestOidcProvider;
let supervisor: AgentJson;
const clock = new ManualClock(new Date());
const lines: string[] = [];

beforeAll(async () => {
  idp = await startOidcProvider();
  const env = { OIDC_ISSUER: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: idp.clientSecret, OIDC_PROVIDER_NAME: 'Test IdP', LOG_LEVEL: 'info' };
  const logger = createLogger({ level: 'info', pretty: false, secrets: configuredSecrets(env), destination: { write: (line: string) => void lines.push(line) } });
  ctx = await createTestContext({ clock, env, logger });
  supervisor = await createAgent(ctx, { name: 'Dana Supervisor', email: `dana.${Date.now()}@desk.example` });
});
afterAll(async () => {
  await ctx?.close();
  await idp?.close();
});

const HTML = 'text/html,application/xhtml+xml';

/** Start, then the provider's /authorize (which signs in at once): where it sends the browser back. */
async function begin(signIn: NextSignIn, next = '/ops') {
  idp.next = { now: clock.now(), ...signIn, claims: { email: supervisor.email, role: 'supervisor', ...signIn.claims } };
  const start = await ctx.app.inject({ method: 'GET', url: `/auth/oidc/start?next=${encodeURIComponent(next)}`, headers: { accept: HTML } });
  expect(start.statusCode, start.body).toBe(303);
  const flow = start.cookies.find((c) => c.name === 'cd_oidc')!;
  expect(flow).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/auth/oidc' });
  const answer = await fetch(start.headers.location as string, { redirect: 'manual' });
  expect(answer.status).toBe(302);
  const back = new URL(answer.headers.get('location')!);
  expect(back.pathname).toBe('/auth/oidc/callback');
  return { cookie: `cd_oidc=${flow.value}`, url: back.pathname + back.search, back };
}

const callback = (url: string, cookie: string | undefined, accept = HTML) => ctx.app.inject({ method: 'GET', url, headers: { accept, ...(cookie ? { cookie } : {}) } });
const sessionCookies = (res: { cookies: { name: string; value: string }[] }) => res.cookies.filter((c) => c.name === SESSION_COOKIE && c.value !== '');

describe('OIDC sign-in (authorization code + PKCE) for the ops wall', () => {
  it('the sign-in page offers "Sign in with Test IdP" beside the key form', async () => {
    const page = await ctx.app.inject({ method: 'GET', url: '/admin/login?next=/ops', headers: { accept: HTML } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('href="/auth/oidc/start?next=%2Fops"');
    expect(page.body).toContain('Sign in with Test IdP');
    expect(page.body).toContain('id="key"');
  });

  it('a supervisor signs in: S256 challenge, state and nonce sent; the same session as the key form opens the wall', async () => {
    const flow = await begin({});
    const asked = idp.lastAuthorize!;
    expect(asked.get('code_challenge_method')).toBe('S256');
    expect(asked.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(asked.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(asked.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(asked.get('scope')).toBe('openid email profile');

    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain('<meta http-equiv="refresh" content="0;url=/ops">');
    const cookies = sessionCookies(res);
    expect(cookies.map((c) => (c as { path?: string }).path).sort()).toEqual(['/admin', '/ops']);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // The flow cookie is spent.
    expect(res.cookies.find((c) => c.name === 'cd_oidc')?.value).toBe('');

    const wall = await ctx.app.inject({ method: 'GET', url: '/ops', headers: { accept: HTML, cookie: `${SESSION_COOKIE}=${cookies[0]!.value}` } });
    expect(wall.statusCode).toBe(200);
    expect(wall.body).toContain('Dana Supervisor');

    // The session records an OIDC user (no API key), for the audit.
    const rows = await ctx.deps.db.select().from(browserSessions).where(eq(browserSessions.agentId, supervisor.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ apiKeyId: null, oidcIssuer: idp.issuer, oidcSubject: 'person-1', role: 'supervisor' });
    expect(rows[0]!.principalKeyId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('the same answer twice: the flow cookie is spent and the code used', async () => {
    const flow = await begin({});
    expect((await callback(flow.url, flow.cookie)).statusCode).toBe(200);
    const again = await callback(flow.url, flow.cookie);
    expect(again.statusCode).toBe(400);
    expect(again.body).toMatch(/refused \(used already, or expired\)/);
    expect(idp.tokenRefusals).toContain('code');
    expect(sessionCookies(again)).toEqual([]);
  });

  it('a state that is not this browser\'s: 400 back to the form, no code exchanged', async () => {
    const flow = await begin({});
    const forged = new URL(flow.back);
    forged.searchParams.set('state', 'A'.repeat(43));
    const res = await callback(forged.pathname + forged.search, flow.cookie);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toMatch(/does not belong to this sign-in \(state\)/);
    expect(res.body).toContain('id="key"');
    expect(res.body).toContain('Sign in with Test IdP');
    expect(sessionCookies(res)).toEqual([]);
  });

  it('an answer without the flow cookie (another browser, login CSRF): 400', async () => {
    const flow = await begin({});
    const res = await callback(flow.url, undefined);
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/not started in this browser/);
  });

  it('a flow cookie signed with another secret: 400', async () => {
    const flow = await begin({});
    const [name, value] = flow.cookie.split('=');
    // Its signature's last three characters changed, always to something else (a cookie may end in "AAA").
    const tail = value!.slice(-3) === 'AAA' ? 'BBB' : 'AAA';
    const res = await callback(flow.url, `${name}=${value!.slice(0, -3)}${tail}`);
    expect(res.statusCode).toBe(400);
  });

  it('a sign-in that took more than 10 minutes: 400', async () => {
    const flow = await begin({});
    clock.advance(11 * 60_000);
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/took too long/);
  });

  it('an ID token whose nonce is not the one sent: 401', async () => {
    const flow = await begin({ nonce: 'a-nonce-from-another-sign-in' });
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(401);
    expect(res.body).toMatch(/\(nonce\)/);
    expect(sessionCookies(res)).toEqual([]);
  });

  it('an ID token for another application (audience): 401', async () => {
    const flow = await begin({ audience: 'another-app' });
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(401);
    expect(res.body).toMatch(/another application \(audience\)/);
  });

  it('an expired ID token: 401', async () => {
    const flow = await begin({ now: new Date(clock.now().getTime() - 10 * 60_000), expiresInSec: 60 });
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(401);
    expect(res.body).toMatch(/has expired/);
  });

  it('an e-mail the provider has not verified: 403', async () => {
    const flow = await begin({ claims: { email_verified: false } });
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(403);
    expect(res.body).toMatch(/not verified/);
    expect(sessionCookies(res)).toEqual([]);
  });

  it("an agent's role: 403, the wall is for supervisors and admins", async () => {
    const flow = await begin({ claims: { role: 'agent' } });
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(403);
    expect(res.body).toMatch(/for supervisors and admins; your account at Test IdP has the role agent/);
    expect(sessionCookies(res)).toEqual([]);
  });

  it('no role, or an e-mail no agent has: 403', async () => {
    let flow = await begin({ claims: { role: undefined } });
    expect((await callback(flow.url, flow.cookie)).statusCode).toBe(403);
    flow = await begin({ claims: { email: 'nobody@desk.example' } });
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(403);
    expect(res.body).toMatch(/No active agent/);
  });

  it('consent refused at the provider: 403 with a clear message', async () => {
    const flow = await begin({ deny: true });
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(403);
    expect(res.body).toMatch(/cancelled or refused at Test IdP/);
  });

  it('a client that does not ask for HTML gets problem+json', async () => {
    const flow = await begin({});
    const forged = new URL(flow.back);
    forged.searchParams.set('state', 'forged');
    const res = await callback(forged.pathname + forged.search, flow.cookie, 'application/json');
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 400, code: 'oidc-state-mismatch' });
    expect(res.body).not.toContain('forged');
  });

  it('neither the code, the state nor the client secret reaches the log or a page', async () => {
    const flow = await begin({});
    const code = flow.back.searchParams.get('code')!;
    const state = flow.back.searchParams.get('state')!;
    const res = await callback(flow.url, flow.cookie);
    expect(res.statusCode).toBe(200);
    const log = lines.join('');
    expect(log).toContain('/auth/oidc/callback?[redacted]');
    for (const secret of [code, state, idp.clientSecret]) {
      expect(log).not.toContain(secret);
      expect(res.body).not.toContain(secret);
    }
  });
});

describe('OIDC sign-in settings', () => {
  it('a client secret needs a client id, a client id an issuer; issuer and client id alone are enough', () => {
    expect(() => loadConfig({ OIDC_CLIENT_SECRET: 'x'.repeat(20) })).toThrow(ConfigError);
    expect(() => loadConfig({ OIDC_CLIENT_ID: 'web' })).toThrow(ConfigError);
    expect(() => loadConfig({ OIDC_ISSUER: 'https://id.example', OIDC_CLIENT_ID: 'web', OIDC_SCOPES: 'email' })).toThrow(ConfigError);
    expect(loadConfig({ OIDC_ISSUER: 'https://id.example', OIDC_CLIENT_ID: 'web' }).OIDC_SCOPES).toBe('openid email profile');
  });
});
