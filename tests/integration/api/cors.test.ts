import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../helpers/context.js';

const ALLOWED = 'https://desk.example.com';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` } });
});
afterAll(async () => ctx?.close());

const preflight = (origin: string, path = '/v1/tickets') =>
  ctx.app.inject({ method: 'OPTIONS', url: path, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' } });

describe('CORS (CORS_ORIGINS)', () => {
  it('answers a preflight from an allowed origin with that exact origin and the request headers clients send, never with credentials', async () => {
    const res = await preflight(ALLOWED);
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
    // The API needs no cookies (Authorization header, stream tokens); allowing credentials would
    // let an allowed origin on the same site read the cookie-signed /ops and /admin pages.
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(String(res.headers['access-control-allow-methods'])).toContain('PATCH');
    expect(String(res.headers['access-control-allow-headers']).toLowerCase()).toContain('idempotency-key');
    expect(res.headers.vary).toMatch(/origin/i);
  });

  it('refuses a preflight from an unknown origin: no CORS header, a 403 problem naming header.origin', async () => {
    for (const origin of ['https://evil.example.com', 'https://desk.example.com.evil.com', 'null', 'https://DESK.example.com:443x']) {
      const res = await preflight(origin);
      expect(res.statusCode, origin).toBe(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
      expect(res.json()).toMatchObject({ code: 'cors-origin-not-allowed', errors: [{ field: 'header.origin' }] });
    }
  });

  it('exposes ETag, Location, Retry-After, rate-limit headers and X-Request-Id to an allowed page, and nothing to others', async () => {
    const allowed = await ctx.app.inject({ method: 'GET', url: '/v1/tickets', headers: { origin: ALLOWED, authorization: `Bearer ${ctx.adminToken}` } });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe(ALLOWED);
    const exposed = String(allowed.headers['access-control-expose-headers']).toLowerCase().split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['etag', 'location', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'x-request-id']));

    expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();

    const other = await ctx.app.inject({ method: 'GET', url: '/v1/tickets', headers: { origin: 'https://evil.example.com', authorization: `Bearer ${ctx.adminToken}` } });
    expect(Object.keys(other.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
  });

  it('allows no origin at all by default', async () => {
    const bare = await createTestContext();
    try {
      const res = await bare.app.inject({ method: 'OPTIONS', url: '/v1/tickets', headers: { origin: ALLOWED, 'access-control-request-method': 'GET' } });
      expect(res.statusCode).toBe(403);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await bare.close();
    }
  });
});

describe('CORS_ORIGINS settings', () => {
  it('refuses a wildcard, a path or a non-http origin at startup', async () => {
    const { loadConfig } = await import('../../../src/config.js');
    for (const value of ['*', 'https://*.example.com', 'https://desk.example.com/', 'https://desk.example.com/app', 'ftp://desk.example.com']) {
      expect(() => loadConfig({ DATABASE_URL: 'postgres://x@localhost/db', CORS_ORIGINS: value }), value).toThrow(/CORS_ORIGINS/);
    }
  });
});
