import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timerJobId } from '../../../src/modules/sla/clocks/sla.timers.js';
import { systemClock } from '../../../src/shared/clock.js';
import { recoverFromRedisLoss, redisMarkerKey } from '../../../src/workers/sla-recovery.js';
import { createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { clockRow, createPolicy, wipeRedisPrefix } from '../../helpers/sla.js';

/**
 * The Redis-loss recovery puts jobs back farthest first and leaves to its own sweeps from
 * Postgres the deadlines that come due before it is done: those get no job (a job would only
 * race the sweep for the clock), and are fired by the time the recovery returns. No worker
 * runs here, so nothing else could have fired them.
 */
let ctx: TestContext;
let redis: Redis;
const TICKETS = 4;

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock });
  redis = new Redis(ctx.config.REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await ctx?.close();
});

describe('the recovery after a Redis loss', () => {
  it('fires the deadlines due during it from Postgres and puts back only the later ones', async () => {
    // First response due in 1 s (its warning sooner): within the recovery's reach; resolution in an hour.
    await createPolicy(ctx, { targets: { firstResponse: 1, resolution: 3600 }, warnAt: 0.5 });
    const tickets = await Promise.all(Array.from({ length: TICKETS }, () => createTicket(ctx, { priority: 'low' })));
    expect(await wipeRedisPrefix(ctx.config.REDIS_URL, ctx.config.QUEUE_PREFIX)).toBeGreaterThan(0);
    expect(await redis.exists(redisMarkerKey(ctx.config.QUEUE_PREFIX))).toBe(0);

    expect(await recoverFromRedisLoss(ctx.deps, redis)).toBe(true);

    const queue = ctx.deps.queues.slaTimers.queue;
    for (const ticket of tickets) {
      const near = await clockRow(ctx, ticket.id, 'first_response');
      const far = await clockRow(ctx, ticket.id, 'resolution');
      // The near clock was warned and breached by the sweeps, and never had a job put back.
      expect(near.state).toBe('breached');
      expect(near.warnedAt).not.toBeNull();
      expect(await queue.getJob(timerJobId('breach', near.id, near.generation))).toBeUndefined();
      expect(await queue.getJob(timerJobId('warning', near.id, near.generation))).toBeUndefined();
      // The far one is back in Redis, warning and breach, and still running.
      expect(far.state).toBe('running');
      expect((await queue.getJob(timerJobId('breach', far.id, far.generation)))?.name).toBe('breach');
      expect((await queue.getJob(timerJobId('warning', far.id, far.generation)))?.name).toBe('warning');
    }
    const perClock = await ctx.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from breaches group by clock_id`);
    expect(perClock.rows).toHaveLength(TICKETS);
    expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
    expect(await redis.exists(redisMarkerKey(ctx.config.QUEUE_PREFIX))).toBe(1);
  });
});
