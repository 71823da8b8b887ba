import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/shared/clock.js';
import { client, createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { eventRows, until } from '../../helpers/sla.js';
import { startPrivateRedis } from './support.js';

/**
 * A promise made while Redis is away: its reminder job cannot be queued. Redis comes back with
 * its keys (a persistent Redis restarted, a network cut healed), so nothing reschedules
 * deadlines from Postgres; the reconciler still sends the reminder that is due.
 */
let ctx: TestContext;
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;
const clock = new ManualClock('2026-03-03T08:00:00Z');

beforeAll(async () => {
  redis = await startPrivateRedis(undefined, { persistent: true });
  ctx = await createTestContext({ clock, env: { REDIS_URL: redis.url, SLA_RECONCILE_INTERVAL_MS: '500' } });
  await ctx.startWorkers();
});
afterAll(async () => {
  if (redis && !redis.running()) await redis.start();
  await ctx?.close();
  await redis?.stop();
});

describe('a commitment made while Redis is down', () => {
  it('is taken, and its reminder is sent by the reconciler once Redis is back', async () => {
    const ticket = await createTicket(ctx);
    await redis.kill();
    await until(() => (ctx.deps.links.redis.up ? undefined : true), { what: 'the Redis link down' });

    // Due in 30 minutes: the reminder (an hour before due) is due at once.
    const created = await client(ctx).post(`/v1/tickets/${ticket.id}/commitments`, { description: 'Call back', dueAt: '2026-03-03T08:30:00Z' });
    expect(created.statusCode, created.body).toBe(201);
    expect(await eventRows(ctx, ticket.id, 'commitment_reminder')).toHaveLength(0);

    await redis.start();
    const reminders = await until(async () => {
      const rows = await eventRows(ctx, ticket.id, 'commitment_reminder');
      return rows.length > 0 ? rows : undefined;
    }, { timeoutMs: 20_000, what: 'the commitment reminder' });
    expect(reminders).toHaveLength(1);
    expect(reminders[0]!.data).toMatchObject({ commitmentId: created.json<{ id: string }>().id, description: 'Call back' });
    // Not overdue yet: the reminder only.
    expect(await eventRows(ctx, ticket.id, 'commitment_overdue')).toHaveLength(0);
  });
});
