import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisMarkerKey } from '../../../src/workers/sla-recovery.js';
import { systemClock } from '../../../src/shared/clock.js';
import { createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { startRedisCluster, type LocalRedisCluster } from '../../helpers/redis-cluster.js';
import { createPolicy, startWebhookReceiver, until } from '../../helpers/sla.js';

/**
 * The service on a Redis Cluster of three masters (started here, on loopback ports): every
 * queue, worker and our own keys (the loss marker, the failed-authentication counter) go
 * through ioredis' Cluster client, and the hash-tag prefix keeps each BullMQ script's keys in
 * one slot (a CROSSSLOT error would fail the jobs). Tickets get SLA timers that fire, and the
 * escalation's webhook job flows through the notifications queue to a local receiver.
 */
const PREFIX = '{cdcluster}';
const TICKETS = 10;
let cluster: LocalRedisCluster;
let ctx: TestContext;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  receiver = await startWebhookReceiver();
  ctx = await createTestContext({
    clock: systemClock,
    env: {
      REDIS_CLUSTER_NODES: cluster.nodes.join(','),
      QUEUE_PREFIX: PREFIX,
      SLA_RECONCILE_INTERVAL_MS: '1000',
      AUTH_FAILURES_PER_MINUTE: '20',
      OUTBOUND_ALLOW_PRIVATE: 'true',
      OUTBOUND_ALLOW_HTTP: 'true',
    },
  });
  await ctx.startWorkers();
}, 60_000);
afterAll(async () => {
  await ctx?.close();
  await receiver?.close();
  await cluster?.stop();
});

describe('on a 3-master Redis Cluster', () => {
  it('is ready, and keeps its own keys under the hash-tag prefix', async () => {
    // The cluster client is ready once it has read the slot map from a node.
    const ready = await until(async () => {
      const res = await ctx.app.inject({ method: 'GET', url: '/readyz' });
      return res.statusCode === 200 ? res : undefined;
    }, { what: '/readyz answering 200' });
    expect(ready.json()).toMatchObject({ status: 'ok', redis: 'ok' });
    // The worker sets the loss marker on the cluster (a missing one means "Redis lost our jobs").
    await until(async () => ((await ctx.deps.redis.exists(redisMarkerKey(PREFIX))) === 1 ? true : undefined), { what: 'the loss marker on the cluster' });
    // A wrong key is counted by the failed-authentication limiter, a Lua script on the cluster.
    const refused = await ctx.app.inject({ method: 'GET', url: '/v1/tickets', headers: { authorization: 'Bearer cdk_nope_nothing' } });
    expect(refused.statusCode).toBe(401);
  });

  it('fires the SLA timers of new tickets once each, and the escalation webhook job flows', async () => {
    await createPolicy(ctx, { targets: { firstResponse: 1 }, escalation: [{ afterSec: 0, actions: [{ type: 'notify', target: { kind: 'webhook', url: `${receiver.url}/hooks/sla` } }] }] });
    const ids = (await Promise.all(Array.from({ length: TICKETS }, () => createTicket(ctx)))).map((t) => t.id);
    // The timers are delayed jobs in the cluster (not the reconciler's sweep): count them while they wait.
    const counts = await ctx.deps.queues.slaTimers.queue.getJobCounts('delayed', 'wait', 'active', 'completed');
    expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBeGreaterThan(0);

    await until(
      async () => {
        const { rows } = await ctx.deps.pool.query<{ n: number }>('select count(*)::int as n from breaches');
        return rows[0]!.n >= TICKETS ? true : undefined;
      },
      { timeoutMs: 30_000, what: `${TICKETS} breaches` },
    );
    await until(() => (ids.every((id) => receiver.requests.some((r) => r.body.includes(id))) ? true : undefined), { timeoutMs: 30_000, what: 'one escalation webhook per ticket' });
    await until(async () => ((await ctx.deps.queues.notifications.queue.getJobCounts('wait', 'active', 'delayed')).wait === 0 ? true : undefined), { what: 'the notifications queue drained' });

    const perClock = await ctx.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from breaches group by clock_id`);
    expect(perClock.rows).toHaveLength(TICKETS);
    expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
    for (const id of ids) expect(receiver.requests.filter((r) => r.body.includes(id))).toHaveLength(1);
    // Nothing failed for want of a slot (CROSSSLOT) or otherwise.
    // (Named with their reasons, so that a failure says which job and why.)
    for (const [name, { queue }] of Object.entries(ctx.deps.queues)) expect((await queue.getFailed()).map((job) => `${name}/${job.name}: ${job.failedReason}`)).toEqual([]);
    // Every key lives in the prefix's one slot, on one master.
    const perNode = await cluster.keysPerNode();
    expect(perNode.filter((n) => n > 0)).toHaveLength(1);
  }, 120_000);
});
