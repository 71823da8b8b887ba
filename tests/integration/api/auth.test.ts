import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createAgent, createTicket, expectProblem, manualClock, tokenFor } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const get = (url: string, authorization?: string) => ctx.app.inject({ method: 'GET', url, headers: authorization === undefined ? {} : { authorization } });

interface KeyJson {
  id: string;
  name: string;
  role: string;
  prefix: string;
  agentId: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  token?: string;
}

describe('authentication', () => {
  it('answers 401 problem+json without an Authorization header', async () => {
    const problem = expectProblem(await get('/v1/tickets'), 401, { code: 'unauthorized' });
    expect(problem.detail).toMatch(/Bearer/);
  });

  it('answers 401 to malformed Authorization headers', async () => {
    for (const header of ['', 'Bearer', 'Bearer ', `Basic ${Buffer.from('admin:admin').toString('base64')}`, `Token ${ctx.adminToken}`, `Bearer ${ctx.adminToken} extra`, ctx.adminToken]) {
      expectProblem(await get('/v1/tickets', header), 401, { code: 'unauthorized' });
    }
  });

  it('accepts the scheme in any case and surrounding blanks', async () => {
    expect((await get('/v1/tickets', `bearer ${ctx.adminToken}`)).statusCode).toBe(200);
    expect((await get('/v1/tickets', `BEARER   ${ctx.adminToken}  `)).statusCode).toBe(200);
  });

  it('answers 401 to unknown keys, including a known prefix with the wrong secret', async () => {
    const [, prefix, secret] = /^cdk_([0-9a-f]{12})_(.+)$/.exec(ctx.adminToken)!;
    const wrongSecret = `cdk_${prefix}_${secret!.slice(0, -1)}${secret!.endsWith('A') ? 'B' : 'A'}`;
    for (const token of [`cdk_000000000000_${'x'.repeat(43)}`, wrongSecret, `cdk_${prefix}_`, 'just-some-random-string-of-text', 'env-admin']) {
      expectProblem(await get('/v1/tickets', `Bearer ${token}`), 401, { code: 'unauthorized' });
    }
  });

  it('checks the key before the body: a bad body without a key is 401, not 400', async () => {
    const res = await ctx.app.inject({ method: 'POST', url: '/v1/tickets', headers: { 'content-type': 'application/json' }, payload: '{nope' });
    expectProblem(res, 401);
  });

  it('leaves health probes open', async () => {
    expect((await get('/healthz')).statusCode).toBe(200);
  });
});

describe('roles', () => {
  it('an integration key may open tickets but not read them', async () => {
    const token = await tokenFor(ctx, 'integration');
    const ticket = await createTicket(ctx, {}, token);
    expectProblem(await client(ctx, token).get('/v1/tickets'), 403, { code: 'forbidden' });
    expectProblem(await client(ctx, token).get(`/v1/tickets/${ticket.id}`), 403, { code: 'forbidden' });
    expectProblem(await client(ctx, token).patch(`/v1/tickets/${ticket.id}`, { priority: 'low', version: 1 }), 403);
    expectProblem(await client(ctx, token).post(`/v1/tickets/${ticket.id}/messages`, { body: 'x', public: true }), 403);
  });

  it('an agent key works tickets but may not manage keys, teams or agents', async () => {
    const token = await tokenFor(ctx, 'agent');
    const ticket = await createTicket(ctx, {}, token);
    expect((await client(ctx, token).get('/v1/tickets')).statusCode).toBe(200);
    expect((await client(ctx, token).patch(`/v1/tickets/${ticket.id}`, { priority: 'high', version: 1 })).statusCode).toBe(200);
    const problem = expectProblem(await client(ctx, token).post('/v1/api-keys', { name: 'mine', role: 'admin' }), 403, { code: 'forbidden' });
    expect(problem.detail).toMatch(/role agent/);
    expectProblem(await client(ctx, token).get('/v1/api-keys'), 403);
    expectProblem(await client(ctx, token).post('/v1/teams', { name: 'Rogue team' }), 403);
  });

  it('a supervisor key manages agents but not API keys', async () => {
    const token = await tokenFor(ctx, 'supervisor');
    expect((await client(ctx, token).post('/v1/agents', { name: 'New', email: 'new.agent@desk.example' })).statusCode).toBe(201);
    expectProblem(await client(ctx, token).post('/v1/api-keys', { name: 'k', role: 'agent' }), 403);
  });
});

describe('API keys', () => {
  it('shows a new key\'s token once; the list never shows a token, hash or salt', async () => {
    const res = await client(ctx).post('/v1/api-keys', { name: 'CRM integration', role: 'integration' });
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json<KeyJson>();
    expect(created).toMatchObject({ name: 'CRM integration', role: 'integration', agentId: null, revokedAt: null, lastUsedAt: null });
    expect(created.token).toMatch(/^cdk_[0-9a-f]{12}_[A-Za-z0-9_-]{32,}$/);
    expect(created.token!.startsWith(`cdk_${created.prefix}_`)).toBe(true);
    expect(Object.keys(created).sort()).toEqual(['agentId', 'createdAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt', 'role', 'token']);

    // The token works…
    expect((await client(ctx, created.token).post('/v1/tickets', { channel: 'email', customer: { name: 'x' }, subject: 's', body: 'b' })).statusCode).toBe(201);

    // …and is never shown again.
    const listed = await client(ctx).get('/v1/api-keys');
    expect(listed.statusCode).toBe(200);
    const secret = created.token!.split('_').slice(2).join('_');
    expect(listed.body).not.toContain(secret);
    const items = listed.json<{ items: KeyJson[]; nextCursor: null }>().items;
    const row = items.find((k) => k.id === created.id)!;
    // lastUsedAt is refreshed in the background after the use above, so it is left out here.
    const { token: _token, lastUsedAt: _lastUsedAt, ...shown } = created;
    expect(row).toMatchObject(shown);
    for (const item of items) {
      expect(Object.keys(item).sort()).toEqual(['agentId', 'createdAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt', 'role']);
    }
    expect(listed.body).not.toMatch(/"(token|hash|salt)"/);
  });

  it('ties a key to an agent (refusing an unknown one, naming body.agentId) and refuses unknown roles', async () => {
    const agent = await createAgent(ctx);
    const res = await client(ctx).post('/v1/api-keys', { name: 'agent key', role: 'agent', agentId: agent.id });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ agentId: agent.id, role: 'agent' });
    expectProblem(await client(ctx).post('/v1/api-keys', { name: 'k', role: 'agent', agentId: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a' }), 400, { field: 'body.agentId' });
    expectProblem(await client(ctx).post('/v1/api-keys', { name: 'k', role: 'root' }), 400, { field: 'body.role' });
    expectProblem(await client(ctx).post('/v1/api-keys', { name: '   ', role: 'agent' }), 400, { field: 'body.name' });
  });

  it('a revoked key is refused with 401 from then on; revoking twice keeps the first time', async () => {
    const created = (await client(ctx).post('/v1/api-keys', { name: 'short-lived', role: 'agent' })).json<KeyJson>();
    expect((await client(ctx, created.token).get('/v1/tickets')).statusCode).toBe(200);
    const revoked = await client(ctx).delete(`/v1/api-keys/${created.id}`);
    expect(revoked.statusCode, revoked.body).toBe(200);
    const revokedAt = revoked.json<KeyJson>().revokedAt;
    expect(revokedAt).toBe(ctx.clock.now().toISOString());
    expectProblem(await client(ctx, created.token).get('/v1/tickets'), 401, { code: 'unauthorized' });
    manualClock(ctx).advance(60_000);
    expect((await client(ctx).delete(`/v1/api-keys/${created.id}`)).json<KeyJson>().revokedAt).toBe(revokedAt);
    expectProblem(await client(ctx).delete('/v1/api-keys/0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a'), 404);
    expectProblem(await client(ctx).delete('/v1/api-keys/nope'), 400, { field: 'path.id' });
  });

  it('an admin key that revokes itself is refused from the next request on', async () => {
    const admin = (await client(ctx).post('/v1/api-keys', { name: 'second admin', role: 'admin' })).json<KeyJson>();
    expect((await client(ctx, admin.token).delete(`/v1/api-keys/${admin.id}`)).statusCode).toBe(200);
    expectProblem(await client(ctx, admin.token).get('/v1/api-keys'), 401);
    expect((await client(ctx).get('/v1/api-keys')).statusCode).toBe(200);
  });
});

describe('ADMIN_API_KEY (ensureEnvAdmin)', () => {
  it('works as an admin key once ensured, and follows a changed secret', async () => {
    const first = 'first-env-admin-secret-0001';
    const second = 'second-env-admin-secret-0002';
    expectProblem(await get('/v1/api-keys', `Bearer ${first}`), 401);

    await ctx.deps.apiKeys.ensureEnvAdmin(first);
    expect((await get('/v1/api-keys', `Bearer ${first}`)).statusCode).toBe(200);
    expect((await client(ctx, first).post('/v1/api-keys', { name: 'made by env admin', role: 'agent' })).statusCode).toBe(201);

    await ctx.deps.apiKeys.ensureEnvAdmin(second);
    expectProblem(await get('/v1/api-keys', `Bearer ${first}`), 401);
    const listed = await get('/v1/api-keys', `Bearer ${second}`);
    expect(listed.statusCode).toBe(200);
    // One row for it however often it is ensured, and no secret in sight.
    const envRows = listed.json<{ items: KeyJson[] }>().items.filter((k) => k.name === 'ADMIN_API_KEY');
    expect(envRows).toHaveLength(1);
    expect(envRows[0]).toMatchObject({ role: 'admin', prefix: 'env-admin', revokedAt: null });
    expect(listed.body).not.toContain(second);

    // Revoked through the API it stops working; ensuring it again (a restart) brings it back.
    expect((await client(ctx).delete(`/v1/api-keys/${envRows[0]!.id}`)).statusCode).toBe(200);
    expectProblem(await get('/v1/api-keys', `Bearer ${second}`), 401);
    await ctx.deps.apiKeys.ensureEnvAdmin(second);
    expect((await get('/v1/api-keys', `Bearer ${second}`)).statusCode).toBe(200);
  });
});
