import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpiredIdempotencyKeys } from '../../../src/http/idempotency.js';
import { client, expectProblem, manualClock, tokenFor, unique, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until as untilValue } from '../../helpers/sla.js';

let ctx: TestContext;
let sql: pg.Client;
beforeAll(async () => {
  ctx = await createTestContext();
  sql = new pg.Client({ connectionString: ctx.databaseUrl });
  await sql.connect();
});
afterAll(async () => {
  await sql?.end();
  await ctx?.close();
});

const newTicket = (subject = 'Kettle leaks') => ({ channel: 'email', customer: { email: `${unique('idem')}@example.com` }, subject, body: 'It leaks' });
const countTickets = async (subject: string) => Number((await sql.query<{ n: string }>('select count(*) as n from tickets where subject = $1', [subject])).rows[0]!.n);

/** Polls a condition with a deadline (no sleeping for a fixed time). */
async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('Idempotency-Key on POST', () => {
  it('replays the first answer to a retry with the same key and body: one ticket, same status, body, ETag and Location', async () => {
    const key = unique('key');
    const body = newTicket(unique('subject'));
    const first = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    expect(first.statusCode, first.body).toBe(201);
    // The same body with its keys in another order is the same request.
    const reordered = { body: body.body, subject: body.subject, customer: body.customer, channel: body.channel };
    const retry = await client(ctx).post('/v1/tickets', reordered, { 'idempotency-key': key });
    expect(retry.statusCode).toBe(201);
    expect(retry.json<TicketJson>()).toEqual(first.json<TicketJson>());
    expect(retry.headers.etag).toBe(first.headers.etag);
    expect(retry.headers.location).toBe(first.headers.location);
    expect(retry.headers['content-type']).toBe(first.headers['content-type']);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await countTickets(body.subject)).toBe(1);
  });

  it('refuses the same key with another body: 422 naming header.idempotency-key, and nothing written', async () => {
    const key = unique('key');
    const body = newTicket(unique('subject'));
    expect((await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key })).statusCode).toBe(201);
    const other = { ...body, subject: unique('other') };
    expectProblem(await client(ctx).post('/v1/tickets', other, { 'idempotency-key': key }), 422, { code: 'idempotency-key-reused', field: 'header.idempotency-key' });
    expect(await countTickets(other.subject)).toBe(0);
    // Another path with the same key is another request too.
    const ticket = (await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key })).json<TicketJson>();
    expectProblem(await client(ctx).post(`/v1/tickets/${ticket.id}/messages`, { body: 'hello', public: true }, { 'idempotency-key': key }), 422, { field: 'header.idempotency-key' });
  });

  it('lets one of two concurrent requests with one key do the work; the other gets a 409 problem; the retry after gets the answer', async () => {
    const key = unique('key');
    const body = newTicket(unique('subject'));
    // Hold the first request inside its work (its ticket insert waits for this lock).
    const blocker = new pg.Client({ connectionString: ctx.databaseUrl });
    await blocker.connect();
    await blocker.query('begin; lock table tickets in exclusive mode');
    const working = client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    await until(async () => (await sql.query("select 1 from idempotency_keys where key = $1 and state = 'running'", [key])).rowCount === 1, 'the first request to claim the key');
    const second = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    const problem = expectProblem(second, 409, { code: 'idempotency-in-progress', field: 'header.idempotency-key' });
    expect(problem.status).toBe(409);
    expect(second.headers['retry-after']).toBe('1');
    await blocker.query('commit');
    await blocker.end();
    const first = await working;
    expect(first.statusCode, first.body).toBe(201);
    expect(await countTickets(body.subject)).toBe(1);
    const retry = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    expect(retry.json()).toEqual(first.json());
  });

  it('keeps principals apart: the same key from two API keys is two requests', async () => {
    const key = unique('key');
    const other = await tokenFor(ctx, 'admin');
    const a = await client(ctx).post('/v1/tickets', newTicket('shared key A'), { 'idempotency-key': key });
    const b = await client(ctx, other).post('/v1/tickets', newTicket('shared key B'), { 'idempotency-key': key });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(a.json<TicketJson>().id).not.toBe(b.json<TicketJson>().id);
  });

  it('stores refusals (4xx) but not 5xx, and works without a key as before', async () => {
    const key = unique('key');
    const missing = '00000000-0000-4000-8000-000000000000';
    const refused = await client(ctx).post(`/v1/tickets/${missing}/messages`, { body: 'hi', public: true }, { 'idempotency-key': key });
    expectProblem(refused, 404);
    const again = await client(ctx).post(`/v1/tickets/${missing}/messages`, { body: 'hi', public: true }, { 'idempotency-key': key });
    expect(again.statusCode).toBe(404);
    expect(again.headers['idempotent-replayed']).toBe('true');

    const body = newTicket(unique('subject'));
    await client(ctx).post('/v1/tickets', body);
    await client(ctx).post('/v1/tickets', body);
    expect(await countTickets(body.subject)).toBe(2);
  });

  it('does not keep a 5xx answer: the retry does the work', async () => {
    const key = unique('key');
    const body = newTicket(unique('subject'));
    // A failing insert (the statement is cancelled) answers 5xx; the key must be free again.
    await sql.query("create or replace function refuse_ticket() returns trigger language plpgsql as $$ begin raise exception 'boom'; end $$");
    await sql.query('create trigger refuse_ticket before insert on tickets for each row execute function refuse_ticket()');
    try {
      const failed = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
      expect(failed.statusCode).toBeGreaterThanOrEqual(500);
    } finally {
      await sql.query('drop trigger refuse_ticket on tickets');
    }
    expect((await sql.query('select 1 from idempotency_keys where key = $1', [key])).rowCount).toBe(0);
    const retry = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    expect(retry.statusCode, retry.body).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
  });

  it('refuses a malformed key with a 400 naming the header', async () => {
    expectProblem(await client(ctx).post('/v1/tickets', newTicket(), { 'idempotency-key': 'x'.repeat(256) }), 400, { field: 'header.idempotency-key' });
    expectProblem(await client(ctx).post('/v1/tickets', newTicket(), { 'idempotency-key': 'has space' }), 400, { field: 'header.idempotency-key' });
  });

  it('expires after the TTL: the key then does the work again, and the maintenance sweep deletes old rows', async () => {
    const clock = manualClock(ctx);
    const key = unique('key');
    const body = newTicket(unique('subject'));
    expect((await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key })).statusCode).toBe(201);
    clock.advance(23 * 3_600_000);
    expect((await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key })).headers['idempotent-replayed']).toBe('true');
    clock.advance(2 * 3_600_000);
    const fresh = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    expect(fresh.statusCode).toBe(201);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();
    expect(await countTickets(body.subject)).toBe(2);

    // Expired rows go: swept by the next POST that stores an answer, or by a sweep.
    const stale = unique('stale');
    expect((await client(ctx).post('/v1/tickets', newTicket(unique('s')), { 'idempotency-key': stale })).statusCode).toBe(201);
    clock.advance(25 * 3_600_000);
    expect((await client(ctx).post('/v1/tickets', newTicket(unique('s')), { 'idempotency-key': unique('next') })).statusCode).toBe(201);
    expect((await sql.query('select 1 from idempotency_keys where key = $1', [stale])).rowCount).toBe(0);
    expect((await sql.query('select 1 from idempotency_keys where expires_at <= $1', [clock.now()])).rowCount).toBe(0);
    clock.advance(25 * 3_600_000);
    expect(await deleteExpiredIdempotencyKeys(ctx.deps.db, clock.now())).toBeGreaterThanOrEqual(1);
    expect((await sql.query('select count(*)::int as n from idempotency_keys')).rows[0]).toEqual({ n: 0 });
  });
});

describe('Idempotency-Key expiry by the maintenance job', () => {
  it('the reconciler run on the maintenance queue deletes stored answers past their TTL', { timeout: 45_000 }, async () => {
    const workers = await createTestContext();
    try {
      const db = new pg.Client({ connectionString: workers.databaseUrl });
      await db.connect();
      const now = workers.clock.now();
      const past = new Date(now.getTime() - 3_600_000);
      const future = new Date(now.getTime() + 3_600_000);
      const insert = "insert into idempotency_keys (api_key_id, key, request_hash, state, status, body, locked_at, created_at, expires_at) values (gen_random_uuid(), $1, 'h', 'done', 201, '{}', $2, $2, $3)";
      await db.query(insert, ['expired', past, past]);
      await db.query(insert, ['live', past, future]);
      await workers.startWorkers();
      // The reconciler runs on its schedule (SLA_RECONCILE_INTERVAL_MS) on the maintenance queue.
      await untilValue(async () => ((await db.query("select 1 from idempotency_keys where key = 'expired'")).rowCount === 0 ? true : undefined), { what: 'the expired answer to be deleted', timeoutMs: 30_000 });
      expect((await db.query<{ key: string }>('select key from idempotency_keys')).rows.map((r) => r.key)).toEqual(['live']);
      await db.end();
    } finally {
      await workers.close();
    }
  });
});
