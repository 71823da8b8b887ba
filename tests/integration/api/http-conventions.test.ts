import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, expectProblem } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('HTTP conventions', () => {
  it('answers a wrong method on a known path with 405 and Allow, an unknown path with 404', async () => {
    const res = await ctx.app.inject({ method: 'PUT', url: '/v1/tickets?limit=1', headers: { authorization: `Bearer ${ctx.adminToken}` } });
    expectProblem(res, 405, { code: 'method-not-allowed' });
    expect(res.headers.allow).toBe('GET, HEAD, POST');
    const item = await ctx.app.inject({ method: 'DELETE', url: '/v1/tickets/00000000-0000-4000-8000-000000000000' });
    expectProblem(item, 405);
    expect(String(item.headers.allow).split(', ')).toEqual(expect.arrayContaining(['GET', 'PATCH']));
    const options = await ctx.app.inject({ method: 'OPTIONS', url: '/v1/tickets' });
    expect(options.statusCode).toBe(405);
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/v1/no-such-thing' }), 404, { code: 'not-found' });
  });

  it('returns X-Request-Id on every answer, the client’s when it sent one, and names it in problem bodies', async () => {
    const ok = await client(ctx).get('/v1/tickets', { 'x-request-id': 'trace-abc-123' });
    expect(ok.headers['x-request-id']).toBe('trace-abc-123');
    const generated = await client(ctx).get('/v1/tickets');
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await client(ctx).post('/v1/tickets', { channel: 'pigeon' }, { 'x-request-id': 'trace-def-456' });
    expect(expectProblem(refused, 400).requestId).toBe('trace-def-456');
    expect(refused.headers['x-request-id']).toBe('trace-def-456');
    const missing = await ctx.app.inject({ method: 'GET', url: '/v1/nothing', headers: { 'x-request-id': 'trace-404' } });
    expect(missing.json()).toMatchObject({ status: 404, requestId: 'trace-404' });
  });

  it('answers 401 with WWW-Authenticate: Bearer', async () => {
    const none = await ctx.app.inject({ method: 'GET', url: '/v1/tickets' });
    expectProblem(none, 401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer\b/);
    const wrong = await ctx.app.inject({ method: 'GET', url: '/v1/tickets', headers: { authorization: 'Bearer cdk_nope_nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer\b/);
  });
});
