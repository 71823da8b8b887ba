import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createAgent, createTicket, tokenFor, unique } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { query } from '../../helpers/webhooks.js';
import { parseKey } from '../../../src/modules/auth/api-keys.models.js';

/*
 * The audit trail (issue 15): every write by a staff key appends a row with its actor, request
 * id, address, action, resource and changed fields (no personal values, no secrets); GET
 * /v1/audit pages and filters it; the table refuses UPDATE, DELETE and TRUNCATE from the
 * service's own database role.
 */

let ctx: TestContext;
let agentId: string;
let agentToken: string;
let agentKeyId: string;

interface Entry {
  id: number;
  action: string;
  route: string;
  resource: string;
  requestId: string;
  ip: string | null;
  customerId: string | null;
  status: number;
  actor: { keyId: string | null; agentId: string | null; role: string };
  changes: Record<string, { before?: unknown; after?: unknown; changed?: true; redacted?: string }>;
}

async function audit(search: string): Promise<{ items: Entry[]; nextCursor: string | null }> {
  const res = await client(ctx).get(`/v1/audit?${search}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

beforeAll(async () => {
  ctx = await createTestContext();
  const agent = await createAgent(ctx, { name: 'Auditor Agent' });
  agentId = agent.id;
  agentToken = await tokenFor(ctx, 'agent', agentId);
  const [key] = await query<{ id: string }>(ctx, 'select id from api_keys where agent_id = $1', [agentId]);
  agentKeyId = key!.id;
});

afterAll(async () => {
  await ctx?.close();
});

describe('audit rows', () => {
  it('a ticket change names actor, request, address, action and the changed fields, personal ones without values', async () => {
    const subject = `Secret subject ${unique()}`;
    const ticket = await createTicket(ctx, { subject, customer: { name: 'Mira Personal', email: `${unique('m')}@example.com` } });
    const res = await ctx.app.inject({
      method: 'PATCH',
      url: `/v1/tickets/${ticket.id}`,
      headers: { ...bearer(agentToken), 'x-request-id': 'req-audit-1', 'if-match': `"${ticket.version}"` },
      payload: { priority: 'high', subject: 'Another secret subject' },
    });
    expect(res.statusCode, res.body).toBe(200);
    const { items } = await audit(`resource=tickets/${ticket.id}`);
    const update = items.find((e) => e.action === 'tickets.update')!;
    expect(update).toMatchObject({
      route: 'PATCH /v1/tickets/:id',
      resource: `tickets/${ticket.id}`,
      requestId: 'req-audit-1',
      customerId: ticket.customerId,
      status: 200,
      actor: { keyId: agentKeyId, agentId, role: 'agent' },
      changes: { priority: { before: 'normal', after: 'high' }, subject: { changed: true, redacted: 'personal' } },
    });
    expect(update.ip).toBeTruthy();
    // Bookkeeping columns are left out; no value of a personal field is anywhere in the trail.
    expect(update.changes).not.toHaveProperty('version');
    expect(update.changes).not.toHaveProperty('updated_at');
    const created = items.find((e) => e.action === 'tickets.create')!;
    expect(created).toMatchObject({ route: 'POST /v1/tickets', resource: `tickets/${ticket.id}`, changes: { status: { after: 'new' }, subject: { changed: true, redacted: 'personal' } } });
    const all = JSON.stringify((await audit('limit=200')).items);
    for (const secret of [subject, 'Another secret subject', 'Mira Personal']) expect(all).not.toContain(secret);
  });

  it('a reply names the message it created and what it changed on the ticket', async () => {
    const ticket = await createTicket(ctx);
    const res = await ctx.app.inject({ method: 'POST', url: `/v1/tickets/${ticket.id}/messages`, headers: bearer(agentToken), payload: { body: 'Hello there', public: true, status: 'pending' } });
    expect(res.statusCode, res.body).toBe(201);
    const { items } = await audit(`resource=tickets/${ticket.id}`);
    const reply = items.find((e) => e.action === 'tickets.messages.create')!;
    expect(reply.resource).toBe(`tickets/${ticket.id}/messages/${res.json().message.id as string}`);
    expect(reply.changes.status).toEqual({ before: 'new', after: 'pending' });
  });

  it('staff tables keep their values; keys never show their secret', async () => {
    const team = await client(ctx).post('/v1/teams', { name: 'Billing audit' });
    expect(team.statusCode).toBe(201);
    const renamed = await client(ctx).patch(`/v1/teams/${team.json().id as string}`, { name: 'Billing audited' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    const { items } = await audit(`resource=teams/${team.json().id as string}`);
    expect(items.map((e) => e.action)).toEqual(['teams.update', 'teams.create']);
    expect(items[0]!.changes.name).toEqual({ before: 'Billing audit', after: 'Billing audited' });

    const key = await client(ctx).post('/v1/api-keys', { name: 'ci key', role: 'supervisor' });
    expect(key.statusCode, key.body).toBe(201);
    const { token, id } = key.json() as { token: string; id: string };
    const [entry] = (await audit(`resource=api-keys/${id}`)).items;
    expect(entry).toMatchObject({ action: 'api-keys.create', changes: { hash: { changed: true, redacted: 'secret' }, salt: { changed: true, redacted: 'secret' }, role: { after: 'supervisor' } } });
    // The secret is base64url and may itself hold '_': take it whole, the way the service parses it.
    const { secret } = parseKey(token);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(JSON.stringify((await audit('limit=200')).items)).not.toContain(secret);
  });

  it('an idempotent replay is not a second write', async () => {
    const headers = { 'idempotency-key': unique('idem') };
    const first = await client(ctx).post('/v1/teams', { name: 'Replayed team' }, headers);
    expect(first.statusCode, first.body).toBe(201);
    const replay = await client(ctx).post('/v1/teams', { name: 'Replayed team' }, headers);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect((await audit(`resource=teams/${first.json().id as string}`)).items).toHaveLength(1);
  });

  it('integration keys, reads and refused writes are not audited', async () => {
    const before = (await audit('limit=200')).items.length;
    const integration = await tokenFor(ctx, 'integration');
    await createTicket(ctx, {}, integration);
    await client(ctx).get('/v1/tickets');
    const refused = await client(ctx).post('/v1/teams', {});
    expect(refused.statusCode).toBe(400);
    expect((await audit('limit=200')).items.length).toBe(before);
  });
});

describe('GET /v1/audit', () => {
  it('filters by actor and time, pages with a cursor, and is for admins only', async () => {
    const mine = await audit(`actor=${agentId}`);
    expect(mine.items.length).toBeGreaterThanOrEqual(2);
    expect(mine.items.every((e) => e.actor.agentId === agentId)).toBe(true);
    expect((await audit(`actor=${agentKeyId}`)).items.length).toBe(mine.items.length);

    const first = await audit(`actor=${agentId}&limit=1`);
    expect(first.items).toHaveLength(1);
    const second = await audit(`actor=${agentId}&limit=1&cursor=${first.nextCursor!}`);
    expect(second.items[0]!.id).toBeLessThan(first.items[0]!.id);

    const future = new Date(ctx.clock.now().getTime() + 3_600_000).toISOString();
    expect((await audit(`from=${encodeURIComponent(future)}`)).items).toEqual([]);
    expect((await audit(`to=${encodeURIComponent(future)}`)).items.length).toBeGreaterThan(0);

    expect((await client(ctx).get('/v1/audit?from=0000-01-01T00:00:00Z')).statusCode).toBe(400);
    expect((await client(ctx).get('/v1/audit?resource=tickets%00')).statusCode).toBe(400);
    const forged = await client(ctx).get('/v1/audit?cursor=bm90LWEtY3Vyc29y');
    expect(forged.statusCode).toBe(400);
    expect((await audit('actor=not-a-uuid')).items).toEqual([]);
    expect((await audit('resource=100%25_done')).items).toEqual([]);
    const bad = await client(ctx).get('/v1/audit?from=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().errors)).toContain('from');
    const supervisor = await tokenFor(ctx, 'supervisor');
    expect((await client(ctx, supervisor).get('/v1/audit')).statusCode).toBe(403);
  });
});

describe('append-only', () => {
  it("refuses UPDATE, DELETE and TRUNCATE through the service's own database role", async () => {
    const [row] = await query<{ id: number; role: string }>(ctx, 'select id, current_user as role from audit_log order by id limit 1');
    expect(row).toBeDefined();
    await expect(ctx.deps.pool.query(`update audit_log set action = 'forged' where id = $1`, [row!.id])).rejects.toThrow(/append-only/);
    await expect(ctx.deps.pool.query('delete from audit_log where id = $1', [row!.id])).rejects.toThrow(/append-only/);
    await expect(ctx.deps.pool.query('truncate audit_log')).rejects.toThrow(/append-only/);
    const [still] = await query<{ action: string }>(ctx, 'select action from audit_log where id = $1', [row!.id]);
    expect(still!.action).not.toBe('forged');
  });

  it('lets retention delete only rows past the kept years', async () => {
    const [old] = await query<{ id: number }>(
      ctx,
      `insert into audit_log (occurred_at, actor_role, request_id, action, route, resource, status) values (now() - interval '6 years', 'admin', 'r', 'x', 'POST /v1/x', 'x', 200) returning id`,
    );
    await expect(ctx.deps.pool.query(`update audit_log set action = 'y' where id = $1`, [old!.id])).rejects.toThrow(/append-only/);
    const deleted = await ctx.deps.pool.query('delete from audit_log where id = $1', [old!.id]);
    expect(deleted.rowCount).toBe(1);
  });
});
