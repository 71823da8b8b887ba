import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pendingNotifications } from '../../../src/modules/notifications/notifications.table.js';
import { ManualClock } from '../../../src/shared/clock.js';
import { createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { breachRows, createPolicy, startWebhookReceiver, until } from '../../helpers/sla.js';
import { startPrivateRedis } from './support.js';

/**
 * An escalation that runs while Redis is away (a worker mid-job when Redis dies, or the
 * reconciler): its notifications are recorded in Postgres with the escalation, and once Redis
 * is back the reconciler queues them, so the receiver is notified after all.
 */
let ctx: TestContext;
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
const clock = new ManualClock();

beforeAll(async () => {
  redis = await startPrivateRedis();
  receiver = await startWebhookReceiver();
  ctx = await createTestContext({ clock, env: { REDIS_URL: redis.url, SLA_RECONCILE_INTERVAL_MS: '500', OUTBOUND_ALLOW_PRIVATE: 'true', OUTBOUND_ALLOW_HTTP: 'true' } });
  await ctx.startWorkers();
});
afterAll(async () => {
  if (redis && !redis.running()) await redis.start();
  await ctx?.close();
  await redis?.stop();
  await receiver?.close();
});

describe('an escalation while Redis is down', () => {
  it('keeps its notification in Postgres and sends it once Redis is back', async () => {
    await createPolicy(ctx, { targets: { firstResponse: 60 }, escalation: [{ afterSec: 0, actions: [{ type: 'notify', target: { kind: 'webhook', url: `${receiver.url}/hooks/sla` } }] }] });
    const ticket = await createTicket(ctx);

    await redis.kill();
    await until(() => (ctx.deps.links.redis.up ? undefined : true), { what: 'the Redis link down' });
    clock.advance(61_000);
    // What a worker would do: breach the clock and run level 1 (no queue is reachable). The
    // worker's own reconciler may be mid-run when Redis dies and do part of it first: the
    // outcome counts, not which of the two got there.
    expect(await ctx.deps.slaService.reconcile()).toMatchObject({ notifications: 0 });
    await until(async () => ((await breachRows(ctx, ticket.id))[0]?.escalationLevel === 1 ? true : undefined), { what: 'level 1 run' });
    expect(await breachRows(ctx, ticket.id)).toMatchObject([{ escalationLevel: 1 }]);
    expect(await ctx.deps.db.select().from(pendingNotifications)).toMatchObject([{ job: 'webhook', data: { url: `${receiver.url}/hooks/sla`, payload: { ticketId: ticket.id, level: 1 } } }]);
    expect(receiver.requests).toHaveLength(0);

    await redis.start();
    const hook = await until(() => receiver.requests.find((r) => r.body.includes(ticket.id)), { timeoutMs: 20_000, what: 'the escalation webhook' });
    expect(JSON.parse(hook.body)).toMatchObject({ event: 'sla.escalation', data: { ticketId: ticket.id, level: 1, metric: 'first_response' } });
    await until(async () => ((await ctx.deps.db.select().from(pendingNotifications)).length === 0 ? true : undefined), { what: 'the pending notification cleared' });
    expect(receiver.requests.filter((r) => r.body.includes(ticket.id))).toHaveLength(1);
  });
});
