import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { expectProblem, tokenFor } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';

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
  // The budgets live in Redis, and a request that finds the connection not ready yet is not
  // counted (the limit fails open; no offline queue): the first test's requests came right after
  // start, and on a loaded machine the sixth was let through.
  await until(() => (ctx.deps.redis.status === 'ready' ? true : undefined), { what: 'the Redis connection' });
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

describe('requests the guard refuses are counted too', () => {
  it('401s without a token become 429 once the address has spent its budget', async () => {
    const from = '198.51.110.1';
    for (let i = 0; i < LIMIT; i++) expectProblem(await request({ from }), 401, { code: 'unauthorized' });
    const limited = expectProblem(await request({ from }), 429, { code: 'rate-limited' });
    expect(limited.status).toBe(429);
    // The same budget as the address's anonymous requests elsewhere, and nobody else's.
    expectProblem(await anonymous(from), 429, { code: 'rate-limited' });
    expect((await request({ from: '198.51.110.2' })).statusCode).toBe(401);
  });

  it("403s for a key's wrong role count against that key's budget", async () => {
    const token = await tokenFor(ctx, 'agent');
    for (let i = 0; i < LIMIT; i++) expectProblem(await request({ url: '/v1/api-keys', from: `198.51.111.${i}`, token }), 403);
    expectProblem(await request({ url: '/v1/api-keys', from: '198.51.111.50', token }), 429, { code: 'rate-limited' });
    // The budget was the key's: its allowed routes are limited now too, from any address.
    expectProblem(await request({ from: '198.51.111.51', token }), 429, { code: 'rate-limited' });
  });
});

describe('addresses', () => {
  it('an IPv6 client rotating through its /64 is limited as one address', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await anonymous(`2001:db8:aa:1::${(i + 1).toString(16)}`)).statusCode).not.toBe(429);
    expectProblem(await anonymous('2001:db8:aa:1:ffff:ffff:ffff:fffe'), 429, { code: 'rate-limited' });
    // The next /64 is someone else.
    expect((await anonymous('2001:db8:aa:2::1')).statusCode).not.toBe(429);
  });

  it('wrong keys from rotating addresses of one /64 share one failure budget', async () => {
    for (let i = 0; i < FAILURES; i++) expectProblem(await request({ from: `2001:db8:bb:1:${i + 1}::1`, token: madeUpKey() }), 401);
    expectProblem(await request({ from: '2001:db8:bb:1:abcd::99', token: madeUpKey() }), 429, { code: 'too-many-failed-authentications' });
  });

  it('an IPv4-mapped IPv6 address counts as its IPv4 address', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await anonymous(i % 2 ? '::ffff:198.51.112.1' : '198.51.112.1')).statusCode).not.toBe(429);
    expectProblem(await anonymous('::ffff:198.51.112.1'), 429, { code: 'rate-limited' });
  });
});

describe('failed authentications', () => {
  it(`however many wrong keys arrive at once, at most ${FAILURES} reach the key lookup`, async () => {
    const from = '198.51.113.1';
    const results = await Promise.all(Array.from({ length: 12 }, () => request({ from, token: madeUpKey() })));
    const statuses = results.map((r) => r.statusCode);
    // A 401 is a lookup that ran; a 429 was refused before it.
    expect(statuses.filter((s) => s === 401)).toHaveLength(FAILURES);
    expect(statuses.filter((s) => s === 429)).toHaveLength(12 - FAILURES);
  });

  it('a key that verifies gives its attempt back: a busy client with a right key is never refused', async () => {
    const from = '198.51.114.1';
    const tokens = await Promise.all(Array.from({ length: FAILURES + 2 }, () => tokenFor(ctx, 'agent')));
    // Fresh keys (not verified a moment ago), one after another: each takes and returns an attempt.
    for (const token of tokens) expect((await request({ from, token })).statusCode).toBe(200);
    expectProblem(await request({ from, token: madeUpKey() }), 401);
  });

  it(`are limited to ${FAILURES} a minute per address, before the key is even looked up`, async () => {
    const from = '198.51.104.1';
    const token = await tokenFor(ctx, 'agent');
    for (let i = 0; i < FAILURES; i++) expect((await request({ from, token: `${token.slice(0, -1)}${token.endsWith(String(i)) ? 'x' : i}` })).statusCode).toBe(401);
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
