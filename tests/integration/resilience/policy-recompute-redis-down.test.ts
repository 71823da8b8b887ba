import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slaRecomputeRequests } from '../../../src/modules/sla/sla.table.js';
import { createTicket } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { clockRow, createPolicy, until, type PolicyJson } from '../../helpers/sla.js';
import { startPrivateRedis } from './support.js';

/**
 * A policy edit while Redis is away: the edit and its recompute request commit together in
 * Postgres (the recompute job cannot be queued), and once Redis is back the reconciler queues
 * the recompute, so the running clocks under the policy move to their new due times.
 */
let ctx: TestContext;
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({ env: { REDIS_URL: redis.url, SLA_RECONCILE_INTERVAL_MS: '500' } });
  await ctx.startWorkers();
});
afterAll(async () => {
  if (redis && !redis.running()) await redis.start();
  await ctx?.close();
  await redis?.stop();
});

const HOUR = 3_600_000;

describe('a policy edit while Redis is down', () => {
  it('is taken, and its clocks are recomputed once Redis is back', async () => {
    const policy: PolicyJson = await createPolicy(ctx, { targets: { firstResponse: 3600 } });
    const ticket = await createTicket(ctx);
    const before = await clockRow(ctx, ticket.id, 'first_response');
    expect(before.dueAt!.getTime() - before.startedAt.getTime()).toBe(HOUR);

    await redis.kill();
    await until(() => (ctx.deps.links.redis.up ? undefined : true), { what: 'the Redis link down' });
    const change = await ctx.app.inject({
      method: 'PUT',
      url: `/v1/sla/policies/${policy.id}`,
      headers: bearer(ctx.adminToken),
      payload: { name: policy.name, position: 0, match: {}, targets: { firstResponse: 7200 } },
    });
    expect(change.statusCode, change.body).toBe(200);
    expect(change.json<PolicyJson>().targets).toEqual({ firstResponse: 7200 });
    // The request waits in Postgres; nothing has recomputed the clock yet.
    expect(await ctx.deps.db.select().from(slaRecomputeRequests)).toMatchObject([{ policyId: policy.id }]);
    expect((await clockRow(ctx, ticket.id, 'first_response')).dueAt).toEqual(before.dueAt);

    await redis.start();
    await until(
      async () => {
        const clock = await clockRow(ctx, ticket.id, 'first_response');
        return clock.dueAt!.getTime() - clock.startedAt.getTime() === 2 * HOUR ? true : undefined;
      },
      { timeoutMs: 20_000, what: 'the clock recomputed to the edited target' },
    );
    await until(async () => ((await ctx.deps.db.select().from(slaRecomputeRequests)).length === 0 ? true : undefined), { what: 'the recompute request cleared' });
  });
});
