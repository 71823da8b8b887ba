import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe('health probes', () => {
  it('GET /healthz answers 200 without a key', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with postgres and redis ok', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', postgres: 'ok', redis: 'ok' });
  });

  it('answers with the security headers helmet adds', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});

describe('when Redis is unreachable', () => {
  let down: TestContext;
  beforeAll(async () => {
    // Nothing listens on port 1; the API's Redis client fails fast rather than queueing.
    down = await createTestContext({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
  });
  afterAll(async () => down?.close());

  it('/readyz answers 503 problem+json naming what is down, /healthz still 200', async () => {
    const res = await down.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = res.json();
    expect(problem).toMatchObject({ status: 503, code: 'not-ready', postgres: 'ok' });
    expect(problem.redis).not.toBe('ok');
    expect((await down.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});
