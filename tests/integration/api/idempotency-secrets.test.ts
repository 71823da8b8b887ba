import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, expectProblem, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/**
 * Answers that show a secret once (a new API key's token, a stream token) are never kept in the
 * idempotency table: the table would otherwise hold live credentials in clear for a day. A
 * retry with the same key does not redo the work and does not show the secret again.
 */
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

describe('Idempotency-Key on a POST whose answer holds a secret', () => {
  it('creates one API key, keeps no token in the idempotency table, and answers a retry with 409 and no secret', async () => {
    const key = unique('key');
    const name = unique('integration');
    const first = await client(ctx).post('/v1/api-keys', { name, role: 'integration' }, { 'idempotency-key': key });
    expect(first.statusCode, first.body).toBe(201);
    const token = first.json<{ token: string }>().token;
    expect(token.length).toBeGreaterThan(16);

    const stored = await sql.query<{ state: string; status: number; body: string | null }>('select state, status, body from idempotency_keys where key = $1', [key]);
    expect(stored.rows).toEqual([{ state: 'done', status: 201, body: null }]);
    const anywhere = await sql.query('select 1 from idempotency_keys where body like $1 or headers::text like $1', [`%${token}%`]);
    expect(anywhere.rowCount).toBe(0);

    const retry = await client(ctx).post('/v1/api-keys', { name, role: 'integration' }, { 'idempotency-key': key });
    const problem = expectProblem(retry, 409, { code: 'idempotency-answer-withheld' });
    expect(retry.body).not.toContain(token);
    expect(problem.errors?.[0]?.field).toBe('header.idempotency-key');
    const keys = await sql.query('select 1 from api_keys where name = $1', [name]);
    expect(keys.rowCount).toBe(1);
  });

  it('keeps no stream token either', async () => {
    const key = unique('key');
    const first = await client(ctx).post('/v1/stream-tokens', { stream: 'sla' }, { 'idempotency-key': key });
    expect(first.statusCode, first.body).toBe(201);
    const stored = await sql.query<{ body: string | null }>('select body from idempotency_keys where key = $1', [key]);
    expect(stored.rows).toEqual([{ body: null }]);
  });

  it('still replays ordinary answers in full', async () => {
    const key = unique('key');
    const body = { channel: 'email', customer: { email: `${unique('c')}@example.com` }, subject: unique('subject'), body: 'It leaks' };
    const first = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    const retry = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    expect(retry.statusCode).toBe(first.statusCode);
    expect(retry.body).toBe(first.body);
  });
});
