import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/**
 * Plans a connection caches (foreign-key checks, trigger statements, named statements) follow
 * the tables as they grow. With Postgres' default plan_cache_mode, the foreign-key check a
 * connection first ran while `tickets` was tiny stays a sequential scan of `tickets` after the
 * table has grown (until an ANALYZE of it): every clock, message and event inserted scans every
 * ticket. The service's connections plan them afresh (CONNECTION_OPTIONS, src/db/client.ts).
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

describe("the service's connections", () => {
  it('check foreign keys through the index once the referenced table has grown, though they first checked them on a tiny table', async () => {
    const client = await ctx.deps.pool.connect();
    try {
      const [{ id: customerId }] = (await client.query<{ id: string }>(`insert into customers (name, language) values ('Plan Customer', 'en') returning id`)).rows as [{ id: string }];
      const newTicket = `insert into tickets (status, priority, channel, subject, description, customer_id) values ('new', 'normal', 'email', 'plans', 'plans', $1) returning id`;
      const newEvent = `insert into ticket_events (ticket_id, type, actor_kind, data) values ($1, 'note', 'system', '{}')`;
      // While `tickets` holds a handful of rows: more than the five runs after which Postgres
      // may settle on a generic plan for the check.
      for (let i = 0; i < 10; i++) {
        const { rows } = await client.query<{ id: string }>(newTicket, [customerId]);
        await client.query(newEvent, [rows[0]!.id]);
      }
      // Now `tickets` grows well past a page or two, with no ANALYZE in between.
      await client.query(
        `insert into tickets (status, priority, channel, subject, description, customer_id)
         select 'new', 'normal', 'email', 'plans ' || g, 'grown', $1 from generate_series(1, 20000) g`,
        [customerId],
      );
      const { rows: targets } = await client.query<{ id: string }>(`select id from tickets order by created_at desc, id limit 5`);

      await client.query('begin');
      for (const { id } of targets) await client.query(newEvent, [id]);
      // This transaction's own scans of `tickets` (counted without waiting for the statistics collector).
      const { rows } = await client.query<{ seq_scan: number; idx_scan: number }>(`select seq_scan::int, coalesce(idx_scan, 0)::int as idx_scan from pg_stat_xact_user_tables where relname = 'tickets'`);
      await client.query('rollback');
      // With the plan of the tiny table: one sequential scan of all 20,010 tickets per event.
      expect(rows[0]!.seq_scan).toBe(0);
      expect(rows[0]!.idx_scan).toBeGreaterThanOrEqual(targets.length);
    } finally {
      client.release();
    }
  });
});
