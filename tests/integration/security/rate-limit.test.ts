import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { expectProblem, tokenFor } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

// Rate limits belong to the key that verified (or the socket address), failed authentications
// are limited per address, and X-Forwarded-For is believed only from listed proxies (issue 11,
// defect 6). Each test uses addresses and keys of its own: budgets are shared in the file.
const LIMIT = 5;
const FAILURES = 3;
const PROXY = '10.9.9.9';
const ADMIN_SECRET = `env-admin-${randomBytes(16).toString('hex')}`;

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { RATE_LIMIT_PER_MINUTE: String(LIMIT), AUTH_FAILURES_PER_MINUTE: String(FAILURES), TRUST_PROXY: `${PROXY}, 10.8.0.0/16` } });
  await ctx.deps.apiKeys.ensureEnvAdmin(ADMIN_SECRET);
});
afterAll(async () => ctx?.close());

const request = (o: { url?: string; from: string; token?: string; forwardedFor?: string }) =>
  ctx.app.inject({
    method: 'GET',
    url: o.url ?? '/v1/tickets?limit=1',
    remoteAddress: o.from,
    headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.forwardedFor ? { 'x-forwarded-for': o.forwardedFor } : {}) },
  });
const anonymous = (from: string, forwardedFor?: string) => request({ url: `/v1/csat/${randomBytes(8).toString('hex')}`, from, ...(forwardedFor ? { forwardedFor } : {}) });
const madeUpKey = () => `cdk_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;

describe('request rate limit', () => {
  it('rotating X-Forwarded-For from a client that is not a trusted proxy does not reset its budget', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await anonymous('198.51.100.1', `203.0.113.${i}`)).statusCode).not.toBe(429);
    const limited = expectProblem(await anonymous('198.51.100.1', '203.0.113.200'), 429, { code: 'rate-limited' });
    expect(limited.status).toBe(429);
  });

  it('behind a listed proxy (address or CIDR), each forwarded client has its own budget', async () => {
    for (const proxy of [PROXY, '10.8.3.4']) {
      for (let i = 0; i < LIMIT + 2; i++) expect((await anonymous(proxy, `192.0.2.${i + (proxy === PROXY ? 0 : 50)}`)).statusCode).not.toBe(429);
    }
  });

  it('a verified key has one budget, whatever address it comes from', async () => {
    const token = await tokenFor(ctx, 'agent');
    for (let i = 0; i < LIMIT; i++) expect((await request({ from: `198.51.100.${10 + i}`, token })).statusCode).toBe(200);
    expectProblem(await request({ from: '198.51.100.30', token }), 429, { code: 'rate-limited' });
    // Another key is not affected.
    expect((await request({ from: '198.51.100.30', token: await tokenFor(ctx, 'agent') })).statusCode).toBe(200);
  });

  it("junk bearer tokens spend no one's budget: the env admin key keeps all of its own", async () => {
    // Before, any token without a cdk_ prefix was counted as the env admin key's.
    for (let i = 0; i < LIMIT * 2; i++) expect((await request({ from: `198.51.101.${i}`, token: `junk-token-${i}` })).statusCode).toBe(401);
    for (let i = 0; i < LIMIT; i++) expect((await request({ from: '198.51.102.1', token: ADMIN_SECRET })).statusCode).toBe(200);
  });

  it('made-up cdk_ prefixes get no budget of their own: each is a failed authentication', async () => {
    for (let i = 0; i < FAILURES; i++) expectProblem(await request({ from: '198.51.103.1', token: madeUpKey() }), 401, { code: 'unauthorized' });
    const res = await request({ from: '198.51.103.1', token: madeUpKey() });
    expectProblem(res, 429, { code: 'too-many-failed-authentications', field: 'header.authorization' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
  });
});

describe('failed authentications', () => {
  it(`are limited to ${FAILURES} a minute per address, before the key is even looked up`, async () => {
    const from = '198.51.104.1';
    const token = await tokenFor(ctx, 'agent');
    for (let i = 0; i < FAILURES; i++) expect((await request({ from, token: `${token.slice(0, -1)}${i}` })).statusCode).toBe(401);
    // Past the limit, even the right key (not verified a moment ago) is refused from there…
    const blocked = await request({ from, token });
    expectProblem(blocked, 429, { code: 'too-many-failed-authentications' });
    expect(blocked.headers['retry-after']).toMatch(/^\d+$/);
    // …while the same key works from elsewhere, and other addresses are not affected.
    expect((await request({ from: '198.51.104.2', token })).statusCode).toBe(200);
    expect((await request({ from: '198.51.104.3', token: madeUpKey() })).statusCode).toBe(401);
  });

  it('a forged X-Forwarded-For does not escape the failure limit either', async () => {
    for (let i = 0; i < FAILURES; i++) expect((await request({ from: '198.51.105.1', forwardedFor: `203.0.113.${i}`, token: madeUpKey() })).statusCode).toBe(401);
    expectProblem(await request({ from: '198.51.105.1', forwardedFor: '203.0.113.99', token: madeUpKey() }), 429);
  });
});

describe('TRUST_PROXY', () => {
  it('is off by default and takes addresses or CIDRs only', () => {
    expect(loadConfig({}).TRUST_PROXY).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.1, 10.1.0.0/16,::1' }).TRUST_PROXY).toEqual(['10.0.0.1', '10.1.0.0/16', '::1']);
    for (const bad of ['true', 'proxy.internal', '10.0.0.0/99']) expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY/);
  });
});
