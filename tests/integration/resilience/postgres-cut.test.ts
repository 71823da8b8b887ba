import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tickets } from '../../../src/modules/tickets/tickets.table.js';
import { systemClock } from '../../../src/shared/clock.js';
import { client, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';
import { terminateBackends, within } from './support.js';

/**
 * Postgres backends terminated under load (what a failover or a restart does to a pool): the
 * process survives, a request caught in the cut answers a 503 problem (never a 500, never a
 * hang), and every write it acknowledged is there afterwards.
 */
let ctx: TestContext;

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { DATABASE_POOL_MAX: '6' } });
});
afterAll(async () => {
  await ctx?.close();
});

const newTicket = () => client(ctx).post('/v1/tickets', { channel: 'email', customer: { email: `${unique('cut')}@example.com` }, subject: 'Kettle', body: 'It leaks' });

describe('Postgres backends terminated mid-load', () => {
  it('the process survives, no request hangs, and no acknowledged write is lost', async () => {
    const acknowledged: string[] = [];
    const refused: { status: number; type: unknown; retryAfter: unknown; code: unknown }[] = [];
    let running = true;
    // Four clients creating tickets (each a transaction on a checked-out client) without pause.
    const load = Array.from({ length: 4 }, async () => {
      while (running) {
        const res = await within(newTicket(), 10_000, 'POST /v1/tickets');
        if (res.statusCode === 201) acknowledged.push(res.json<{ id: string }>().id);
        else refused.push({ status: res.statusCode, type: res.headers['content-type'], retryAfter: res.headers['retry-after'], code: res.json<{ code?: string }>().code });
      }
    });
    let cuts = 0;
    try {
      for (let round = 0; round < 3; round++) {
        const before = acknowledged.length;
        await until(() => (acknowledged.length >= before + 5 ? true : undefined), { timeoutMs: 15_000, what: 'tickets created between cuts' });
        cuts += await terminateBackends(ctx.databaseUrl);
      }
      const before = acknowledged.length;
      await until(() => (acknowledged.length >= before + 5 ? true : undefined), { timeoutMs: 15_000, what: 'tickets created after the last cut' });
    } finally {
      running = false;
      await Promise.all(load);
    }
    expect(cuts).toBeGreaterThan(0);

    // A request caught in a cut is told to come back: 503 problem+json with Retry-After.
    for (const r of refused) {
      expect(r).toMatchObject({ status: 503, code: 'dependency-unavailable' });
      expect(String(r.type)).toMatch(/^application\/problem\+json/);
      expect(Number(r.retryAfter)).toBeGreaterThan(0);
    }
    // No connection leaked by a transaction cut between checkout and BEGIN: all idle again.
    const { pool } = ctx.deps;
    await until(() => (pool.totalCount === pool.idleCount ? true : undefined), { timeoutMs: 5_000, what: `every pool client released (${pool.totalCount} open, ${pool.idleCount} idle)` });
    if (process.env.RESILIENCE_REPORT) console.error({ acknowledged: acknowledged.length, refused: refused.length, cuts });
    // Everything works afterwards, and every acknowledged ticket is in Postgres.
    expect((await client(ctx).get('/readyz')).statusCode).toBe(200);
    expect((await newTicket()).statusCode).toBe(201);
    const stored = await ctx.deps.db.select({ id: tickets.id }).from(tickets).where(inArray(tickets.id, acknowledged));
    expect(stored).toHaveLength(acknowledged.length);
    expect(ctx.deps.links.postgres.up).toBe(true);
  });
});
