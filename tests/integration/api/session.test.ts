import fastifyCookie from '@fastify/cookie';
import type { LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { createDependencies } from '../../../src/dependencies.js';
import { safeNextPath, SESSION_COOKIE } from '../../../src/http/session.js';
import { browserSessions } from '../../../src/modules/sessions/sessions.table.js';
import { expectProblem, tokenFor } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function login(ctx: TestContext, key: string, next?: string, headers: Record<string, string> = {}) {
  const body = new URLSearchParams({ key, ...(next ? { next } : {}) }).toString();
  return ctx.app.inject({ method: 'POST', url: '/admin/login', headers: { ...FORM, ...headers }, payload: body });
}

/** The cookie header a browser would send back, from the Set-Cookie of a sign-in. */
function sessionCookie(res: LightMyRequestResponse): string {
  const cookie = res.cookies.find((c) => c.name === SESSION_COOKIE);
  expect(cookie, 'session cookie').toBeDefined();
  return `${SESSION_COOKIE}=${cookie!.value}`;
}

describe('browser sessions (login form, cookie, Bull Board)', () => {
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(async () => ctx?.close());

  it('serves the login form with a strict CSP and no external asset', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/admin/login?next=/ops' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(res.body).toContain('name="next" value="/ops"');
  });

  it('an admin key signs in: HttpOnly, SameSite=Strict cookies for /admin and /ops, then Bull Board opens with the cookie', async () => {
    const res = await login(ctx, ctx.adminToken);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/admin/queues/');
    const cookies = res.cookies.filter((c) => c.name === SESSION_COOKIE);
    expect(cookies.map((c) => c.path).sort()).toEqual(['/admin', '/ops']);
    for (const cookie of cookies) {
      expect(cookie.httpOnly).toBe(true);
      expect(cookie.sameSite).toBe('Strict');
    }
    // The row keeps only a digest of the session id.
    const rows = await ctx.deps.db.select().from(browserSessions);
    expect(rows.some((row) => cookies[0]!.value.includes(row.idHash))).toBe(false);

    const board = await ctx.app.inject({ method: 'GET', url: '/admin/queues/', headers: { cookie: sessionCookie(res), accept: 'text/html' } });
    expect(board.statusCode, board.body).toBe(200);
    expect(board.body).toMatch(/bull/i);
    const api = await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie: sessionCookie(res) } });
    expect(api.statusCode).toBe(200);
  });

  it('the header form keeps working for scripts; no credentials: a browser is sent to the form, a script gets 401', async () => {
    expect((await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: bearer(ctx.adminToken) })).statusCode).toBe(200);
    const page = await ctx.app.inject({ method: 'GET', url: '/admin/queues/', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe('/admin/login?next=%2Fadmin%2Fqueues%2F');
    const script = await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues' });
    expectProblem(script, 401);
    expect(script.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('follows next to a path of this server only', async () => {
    expect((await login(ctx, ctx.adminToken, '/ops?view=teams')).headers.location).toBe('/ops?view=teams');
    expect((await login(ctx, ctx.adminToken, '//evil.example/x')).headers.location).toBe('/admin/queues/');
    expect((await login(ctx, ctx.adminToken, 'https://evil.example/')).headers.location).toBe('/admin/queues/');
    expect(safeNextPath('/\\evil.example')).toBeUndefined();
    expect(safeNextPath('/admin/queues/')).toBe('/admin/queues/');
  });

  it('a supervisor signs in (the ops wall) but Bull Board stays admin-only', async () => {
    const res = await login(ctx, await tokenFor(ctx, 'supervisor'));
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/ops');
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie: sessionCookie(res) } }), 403);
  });

  it('refuses an agent key, an unknown key and a cross-site form, setting no cookie', async () => {
    const agent = await login(ctx, await tokenFor(ctx, 'agent'));
    expect(agent.statusCode).toBe(403);
    expect(agent.body).toContain('admin or supervisor');
    const unknown = await login(ctx, 'cdk_000000000000_not-a-real-key-not-a-real-key-xx');
    expect(unknown.statusCode).toBe(401);
    const crossSite = await login(ctx, ctx.adminToken, undefined, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.statusCode).toBe(403);
    for (const res of [agent, unknown, crossSite]) expect(res.cookies.filter((c) => c.name === SESSION_COOKIE)).toEqual([]);
  });

  it('refuses a cookie signed with another secret, and a tampered one', async () => {
    const forged = fastifyCookie.sign('made-up-session-id', 'another-secret-another-secret-another-secret');
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie: `${SESSION_COOKIE}=${forged}` } }), 401);
    const real = sessionCookie(await login(ctx, ctx.adminToken));
    const tampered = real.replace(/=(.)/, (_m, c: string) => `=${c === 'a' ? 'b' : 'a'}`);
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie: tampered } }), 401);
  });

  it('logout ends the session: the same cookie no longer opens Bull Board', async () => {
    const cookie = sessionCookie(await login(ctx, ctx.adminToken));
    const out = await ctx.app.inject({ method: 'POST', url: '/admin/logout', headers: { cookie } });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/admin/login');
    expect(out.cookies.filter((c) => c.name === SESSION_COOKIE && c.value === '').length).toBe(2);
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie } }), 401);
  });

  it('a revoked key ends its sessions', async () => {
    const key = await ctx.deps.apiKeys.create({ name: 'short-lived admin', role: 'admin' });
    const cookie = sessionCookie(await login(ctx, key.token));
    expect((await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie } })).statusCode).toBe(200);
    await ctx.deps.apiKeys.revoke(key.id);
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie } }), 401);
  });

  it('a cookie-authenticated change must come from this server (Sec-Fetch-Site / Origin)', async () => {
    const cookie = sessionCookie(await login(ctx, ctx.adminToken));
    const res = await ctx.app.inject({ method: 'PUT', url: '/admin/queues/api/queues/x/pause', headers: { cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expectProblem(res, 403, { code: 'cross-site-request' });
  });

  it('without SESSION_SECRET the generated secret is kept in the database: another process (a restart) accepts the cookie', async () => {
    const cookie = sessionCookie(await login(ctx, ctx.adminToken));
    const deps = createDependencies(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }) });
    const other = await buildApp(deps);
    try {
      await other.ready();
      expect((await other.inject({ method: 'GET', url: '/admin/queues/api/queues', headers: { cookie } })).statusCode).toBe(200);
    } finally {
      await other.close();
      await deps.close();
    }
  });

  it('SESSION_SECRET must have 32 bytes or more; a configured one signs instead of the stored one', async () => {
    expect(() => loadConfig({ SESSION_SECRET: 'too-short' })).toThrow(ConfigError);
    const configured = await createTestContext({ env: { SESSION_SECRET: 'x'.repeat(40) } });
    try {
      const res = await login(configured, configured.adminToken);
      const value = res.cookies.find((c) => c.name === SESSION_COOKIE)!.value;
      expect(fastifyCookie.unsign(value, 'x'.repeat(40)).valid).toBe(true);
    } finally {
      await configured.close();
    }
  });
});
