import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_DEFS } from '../../../src/queues/queues.js';
import { systemClock } from '../../../src/shared/clock.js';
import { redisMarkerKey } from '../../../src/workers/sla-recovery.js';
import { createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy, until, wipeRedisPrefix } from '../../helpers/sla.js';

/**
 * Redis loses the timer jobs but keeps the recovery marker (a flush that deletes keys a batch at
 * a time, eviction under maxmemory, a failover that lost the last writes): no recovery starts,
 * and the reconciler runs only every ten minutes here, so what fires the deadlines is the
 * overdue watch, from Postgres.
 */
let ctx: TestContext;
const TICKETS = 8;

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '600000' } });
  await ctx.startWorkers();
});
afterAll(async () => ctx?.close());

describe('timer jobs lost with the marker kept', () => {
  it('fires every warning and breach once, from Postgres', async () => {
    await createPolicy(ctx, { targets: { firstResponse: 2, resolution: 3 }, warnAt: 0.5 });
    await Promise.all(Array.from({ length: TICKETS }, () => createTicket(ctx, { priority: 'low' })));
    const clocks = TICKETS * 2;
    const count = async (query: ReturnType<typeof sql>) => (await ctx.deps.db.execute<{ n: number }>(query)).rows[0]!.n;
    const timersQueue = ctx.deps.queues.slaTimers.queue;
    await until(async () => ((await timersQueue.getDelayedCount()) > 0 ? true : undefined), { what: 'the timer jobs' });

    // Only the timer queue's keys: the marker stays, so no recovery reschedules anything.
    const deleted = await wipeRedisPrefix(ctx.config.REDIS_URL, `${ctx.config.QUEUE_PREFIX}:${QUEUE_DEFS.slaTimers.name}`);
    expect(deleted).toBeGreaterThan(0);
    expect(await timersQueue.getDelayedCount()).toBe(0);

    await until(async () => ((await count(sql`select count(*)::int as n from breaches`)) === clocks ? true : undefined), { timeoutMs: 15_000, what: 'every clock breached' });

    const perClock = await ctx.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from breaches group by clock_id`);
    expect(perClock.rows).toHaveLength(clocks);
    expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
    const events = await ctx.deps.db.execute<{ type: string; n: number }>(
      sql`select type, count(*)::int as n from ticket_events where type in ('sla_warning', 'sla_breached') group by type order by type`,
    );
    expect(events.rows).toEqual([
      { type: 'sla_breached', n: clocks },
      { type: 'sla_warning', n: clocks },
    ]);
    // No job came back: the marker was there all along.
    expect(await timersQueue.getDelayedCount()).toBe(0);
    const redis = new Redis(ctx.config.REDIS_URL);
    try {
      expect(await redis.exists(redisMarkerKey(ctx.config.QUEUE_PREFIX))).toBe(1);
    } finally {
      redis.disconnect();
    }
  });
});
