import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/shared/clock.js';
import { RECONCILE_SCHEDULER_ID } from '../../../src/workers/index.js';
import { createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy, until, wipeRedisPrefix } from '../../helpers/sla.js';

/**
 * Redis loses every job mid-test. The shared Redis also serves the other test files, so instead
 * of FLUSHALL this file deletes every key under its own prefix, which is what FLUSHALL does to us.
 */
let ctx: TestContext;
const TICKETS = 12;

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '400' } });
  await ctx.startWorkers();
});
afterAll(async () => ctx?.close());

describe('Redis loses our jobs', () => {
  it('still ends with every deadline breached exactly once and every escalation run', async () => {
    // first_response breaches before the wipe (its level-1 escalation is then lost); resolution is
    // due after it (its timer jobs are lost). Each breach escalates one second later. Resolution
    // comes 4 s after the first response: room for a stall of the machine before the wipe.
    await createPolicy(ctx, { targets: { firstResponse: 1, resolution: 5 }, warnAt: 0.5, escalation: [{ afterSec: 1, actions: [{ type: 'priority', raise: true }] }] });
    const tickets = await Promise.all(Array.from({ length: TICKETS }, () => createTicket(ctx, { priority: 'low' })));
    const clocks = TICKETS * 2;
    const count = async (query: ReturnType<typeof sql>) => (await ctx.deps.db.execute<{ n: number }>(query)).rows[0]!.n;

    // Half-way: the first responses have breached, nothing else has happened yet.
    await until(async () => ((await count(sql`select count(*)::int as n from breaches where metric = 'first_response'`)) === TICKETS ? true : undefined), { what: 'the first breaches' });
    expect(await count(sql`select count(*)::int as n from breaches where metric = 'resolution'`)).toBe(0);
    const delayedBefore = await ctx.deps.queues.slaTimers.queue.getDelayedCount();
    expect(delayedBefore).toBeGreaterThan(0);
    const deleted = await wipeRedisPrefix(ctx.config.REDIS_URL, ctx.config.QUEUE_PREFIX);
    // Timer and escalation jobs, the reconciler's schedule and the epoch marker are all gone. (No
    // check that the queues are empty now: the recovery may already be putting jobs back.)
    expect(deleted).toBeGreaterThan(delayedBefore);

    await until(
      async () => {
        const breached = await count(sql`select count(*)::int as n from breaches`);
        const escalated = await count(sql`select count(*)::int as n from breaches where escalation_level = 1`);
        return breached === clocks && escalated === clocks ? true : undefined;
      },
      { timeoutMs: 15_000, what: 'every clock breached and escalated' },
    );

    const perClock = await ctx.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from breaches group by clock_id`);
    expect(perClock.rows).toHaveLength(clocks);
    expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
    const events = await ctx.deps.db.execute<{ type: string; n: number; tickets: number }>(
      sql`select type, count(*)::int as n, count(distinct ticket_id)::int as tickets from ticket_events where type in ('sla_warning', 'sla_breached', 'escalated') group by type order by type`,
    );
    // Once per clock: a warning, a breach, one escalation.
    expect(events.rows).toEqual([
      { type: 'escalated', n: clocks, tickets: TICKETS },
      { type: 'sla_breached', n: clocks, tickets: TICKETS },
      { type: 'sla_warning', n: clocks, tickets: TICKETS },
    ]);
    // Both escalations ran: low -> normal -> high.
    const priorities = await ctx.deps.db.execute<{ priority: string; n: number }>(sql`select priority, count(*)::int as n from tickets group by priority`);
    expect(priorities.rows).toEqual([{ priority: 'high', n: TICKETS }]);
    expect(new Set(tickets.map((t) => t.id)).size).toBe(TICKETS);

    // The recovery put its marker back and the reconciler re-declared its own schedule.
    const redis = new Redis(ctx.config.REDIS_URL);
    try {
      expect(await redis.exists(`${ctx.config.QUEUE_PREFIX}:sla:epoch`)).toBe(1);
    } finally {
      redis.disconnect();
    }
    expect(await ctx.deps.queues.maintenance.queue.getJobScheduler(RECONCILE_SCHEDULER_ID)).toBeTruthy();
  });
});
