import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planAfresh } from '../../../src/db/client.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/**
 * Plans a connection caches (foreign-key checks, trigger statements, named statements) and a
 * table that grows under them. With Postgres' default plan_cache_mode, the foreign-key check a
 * connection first ran while `tickets` was tiny stays a sequential scan of `tickets` after the
 * table has grown (until an ANALYZE of it): every clock, message and event inserted scans every
 * ticket. Intake's group transactions plan afresh (planAfresh, src/db/client.ts).
 */
let ctx: TestContext;
beforeAll(async () => {
  // One connection: the plans cached below are the ones the transactions after them meet.
  ctx = await createTestContext({ env: { DATABASE_POOL_MAX: '1' } });
});
afterAll(async () => ctx?.close());

const newTicket = sql`insert into tickets (status, priority, channel, subject, description, customer_id)
  select 'new', 'normal', 'email', 'plans', 'plans', id from customers limit 1 returning id`;
const newEvent = (ticketId: string) => sql`insert into ticket_events (ticket_id, type, actor_kind, data) values (${ticketId}, 'note', 'system', '{}')`;

/** Inserts an event for each ticket in one transaction; answers the scans of `tickets` they made. */
async function scansOfTickets(ticketIds: string[], options: { afresh: boolean }) {
  return ctx.deps.db.transaction(async (tx) => {
    // This backend's counts not yet flushed to the statistics (pg_stat_xact_*: they may include
    // earlier transactions' until a flush, which never comes inside a transaction): a difference.
    const counts = async () =>
      (await tx.execute<{ seq_scan: number; idx_scan: number }>(sql`select seq_scan::int, coalesce(idx_scan, 0)::int as idx_scan from pg_stat_xact_user_tables where relname = 'tickets'`)).rows[0]!;
    if (options.afresh) await planAfresh(tx);
    const before = await counts();
    for (const id of ticketIds) await tx.execute(newEvent(id));
    const after = await counts();
    return { seq_scan: after.seq_scan - before.seq_scan, idx_scan: after.idx_scan - before.idx_scan };
  });
}

describe('foreign-key checks on a table that grew since they were first planned', () => {
  it('scan the whole table with the cached plan, and use the index in a transaction that plans afresh', async () => {
    await ctx.deps.db.execute(sql`insert into customers (name, language) values ('Plan Customer', 'en')`);
    // While `tickets` holds a handful of rows: more than the five runs after which Postgres
    // settles on a generic plan for the check.
    for (let i = 0; i < 10; i++) {
      const { rows } = await ctx.deps.db.execute<{ id: string }>(newTicket);
      await ctx.deps.db.execute(newEvent(rows[0]!.id));
    }
    // `tickets` grows well past a page or two, with no ANALYZE in between.
    await ctx.deps.db.execute(sql`insert into tickets (status, priority, channel, subject, description, customer_id)
      select 'new', 'normal', 'email', 'plans ' || g, 'grown', (select id from customers limit 1) from generate_series(1, 20000) g`);
    const targets = (await ctx.deps.db.execute<{ id: string }>(sql`select id from tickets order by created_at desc, id limit 5`)).rows.map((r) => r.id);

    // The connection's cached plans: at least one sequential scan of all 20,010 tickets per event
    // (the condition planAfresh answers; were Postgres to replan them, the test would say so here).
    expect((await scansOfTickets(targets, { afresh: false })).seq_scan).toBeGreaterThanOrEqual(targets.length);
    const afresh = await scansOfTickets(targets, { afresh: true });
    expect(afresh.seq_scan).toBe(0);
    expect(afresh.idx_scan).toBeGreaterThanOrEqual(targets.length);
  });
});
