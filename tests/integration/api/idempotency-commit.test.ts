import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ABANDONED_CLAIM_MS } from '../../../src/http/idempotency.js';
import { client, expectProblem, manualClock, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/**
 * The work and the spending of its Idempotency-Key commit together: a process that dies after the
 * work committed and before the answer was stored must not let a retry do the work again.
 * "Dies before storing" is made real with a trigger that refuses the answer's store (the
 * UPDATE to 'done'), exactly the write a dead process never makes.
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

const newTicket = (subject: string) => ({ channel: 'email', customer: { email: `${unique('idem')}@example.com` }, subject, body: 'It leaks' });
const countTickets = async (subject: string) => Number((await sql.query<{ n: string }>('select count(*) as n from tickets where subject = $1', [subject])).rows[0]!.n);
const stateOf = async (key: string) => (await sql.query<{ state: string }>('select state from idempotency_keys where key = $1', [key])).rows[0]?.state;

describe('Idempotency-Key: the key is spent in the work’s own transaction', () => {
  it('a retry after the answer was lost (process gone between commit and store) does not redo the work', async () => {
    await sql.query(`create function refuse_idempotency_answer() returns trigger language plpgsql as $$ begin raise exception 'simulated crash before storing the answer'; end $$`);
    await sql.query(`create trigger refuse_answer before update on idempotency_keys for each row when (new.state = 'done') execute function refuse_idempotency_answer()`);
    const key = unique('key');
    const subject = unique('subject');
    const body = newTicket(subject);
    try {
      const first = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
      expect(first.statusCode, first.body).toBe(201);
      // The answer was never stored, but the work's transaction spent the key.
      expect(await stateOf(key)).toBe('committed');
    } finally {
      await sql.query('drop trigger refuse_answer on idempotency_keys');
      await sql.query('drop function refuse_idempotency_answer()');
    }

    // Soon after, the first request may still be answering: retry later.
    expectProblem(await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key }), 409, { code: 'idempotency-in-progress' });
    // Long after (a claim this old belongs to a dead process): never done again, the answer is lost.
    manualClock(ctx).advance(ABANDONED_CLAIM_MS + 1_000);
    const retry = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    expectProblem(retry, 409, { code: 'idempotency-answer-lost', field: 'header.idempotency-key' });
    expect(await countTickets(subject)).toBe(1);
  });

  it('a normal request ends with its answer stored (state done) and replays it', async () => {
    const key = unique('key');
    const subject = unique('subject');
    const body = newTicket(subject);
    const first = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    expect(first.statusCode).toBe(201);
    expect(await stateOf(key)).toBe('done');
    const again = await client(ctx).post('/v1/tickets', body, { 'idempotency-key': key });
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(await countTickets(subject)).toBe(1);
  });
});
