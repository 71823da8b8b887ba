import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timerJobId } from '../../../src/modules/sla/clocks/sla.timers.js';
import { redisMarkerKey, rescheduleAfterRedisLoss } from '../../../src/workers/sla-recovery.js';
import { createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { clockRow, createPolicy, startSecondProcess } from '../../helpers/sla.js';

/**
 * The Redis-loss recovery interrupted half-way (its producer connection not back yet, or Redis
 * gone again): the marker it set first must not stay, or no process would ever retry and the
 * deadlines would only be caught, late, by the reconciler's sweep.
 */
let ctx: TestContext;
let redis: Redis;

beforeAll(async () => {
  ctx = await createTestContext();
  redis = new Redis(ctx.config.REDIS_URL);
});
afterAll(async () => {
  redis?.disconnect();
  await ctx?.close();
});

describe('an interrupted Redis-loss recovery', () => {
  it('clears its marker so that the next check starts over, and the retry reschedules', async () => {
    await createPolicy(ctx, { targets: { firstResponse: 3600 } });
    const ticket = await createTicket(ctx);
    const clock = await clockRow(ctx, ticket.id, 'first_response');
    const marker = redisMarkerKey(ctx.config.QUEUE_PREFIX);
    await ctx.deps.queues.slaTimers.queue.remove(timerJobId('breach', clock.id, clock.generation));
    await redis.del(marker);

    // A process whose producer connection is down (closed: it refuses at once).
    const broken = await startSecondProcess(ctx, { workers: false });
    try {
      broken.deps.redis.disconnect();
      await expect(rescheduleAfterRedisLoss(broken.deps, redis)).rejects.toThrow(/unavailable/i);
      expect(await redis.exists(marker)).toBe(0);
    } finally {
      await broken.close();
    }

    // The next check (any process) does the whole job.
    expect(await rescheduleAfterRedisLoss(ctx.deps, redis)).toBe(true);
    expect(await redis.exists(marker)).toBe(1);
    const job = await ctx.deps.queues.slaTimers.queue.getJob(timerJobId('breach', clock.id, clock.generation));
    expect(job?.name).toBe('breach');
  });
});
