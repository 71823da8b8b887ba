import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/shared/clock.js';
import { client, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy, until } from '../../helpers/sla.js';
import { startPrivateRedis, within } from './support.js';

/**
 * Redis restarted mid-load, losing every key (a redis-server of the test's own, without
 * persistence): the API keeps answering (tickets are committed in Postgres; their timers are
 * repaired from Postgres once Redis is back), /readyz says 503 while Redis is away and 200 once
 * it is back, and every SLA clock still breaches exactly once.
 */
let ctx: TestContext;
let redis: Awaited<ReturnType<typeof startPrivateRedis>>;

beforeAll(async () => {
  redis = await startPrivateRedis();
  ctx = await createTestContext({ clock: systemClock, env: { REDIS_URL: redis.url, SLA_RECONCILE_INTERVAL_MS: '500' } });
  await ctx.startWorkers();
  await createPolicy(ctx, { targets: { firstResponse: 2 } });
});
afterAll(async () => {
  // A test that failed mid-outage: the workers' close needs their Redis back.
  if (redis && !redis.running()) await redis.start();
  await ctx?.close();
  await redis?.stop();
});

const redisUpGauge = async () => (await ctx.deps.metrics.dependencyUp.get()).values.find((v) => v.labels.dependency === 'redis')?.value;
const newTicket = () => client(ctx).post('/v1/tickets', { channel: 'email', customer: { email: `${unique('redis')}@example.com` }, subject: 'Kettle', body: 'It leaks' });

describe('Redis restarted mid-load', () => {
  it('the API keeps answering, readiness tells the truth, and every clock breaches exactly once', async () => {
    const created: string[] = [];
    const statuses: number[] = [];
    let running = true;
    const load = Array.from({ length: 3 }, async () => {
      while (running) {
        const res = await within(newTicket(), 10_000, 'POST /v1/tickets');
        statuses.push(res.statusCode);
        if (res.statusCode === 201) created.push(res.json<{ id: string }>().id);
      }
    });
    try {
      await until(() => (created.length >= 10 ? true : undefined), { timeoutMs: 15_000, what: 'tickets before the restart' });
      await redis.kill();
      const readyz = await until(
        async () => {
          const res = await within(client(ctx).get('/readyz'), 5_000, 'GET /readyz');
          return res.statusCode === 503 ? res : undefined;
        },
        { what: '/readyz answering 503 while Redis is away' },
      );
      expect(readyz.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(ctx.deps.links.redis.up).toBe(false);
      expect(await redisUpGauge()).toBe(0);
      // Tickets are still taken while Redis is away: Postgres is the source of truth.
      const during = created.length;
      await until(() => (created.length >= during + 10 ? true : undefined), { timeoutMs: 15_000, what: 'tickets created while Redis is away' });
      await redis.start();
      await until(async () => ((await client(ctx).get('/readyz')).statusCode === 200 ? true : undefined), { timeoutMs: 15_000, what: '/readyz answering 200 again' });
      const after = created.length;
      await until(() => (created.length >= after + 5 ? true : undefined), { timeoutMs: 15_000, what: 'tickets after Redis is back' });
    } finally {
      running = false;
      await Promise.all(load);
    }
    expect(statuses.every((s) => s === 201)).toBe(true);
    // Every connection of the process (the API's and the workers') is back, not only the one /readyz pings.
    await until(() => (ctx.deps.links.redis.up ? true : undefined), { what: `the Redis link restored (producer connection ${ctx.deps.redis.status})` });
    expect(await redisUpGauge()).toBe(1);

    // Every clock (before, during and after the outage) breaches, exactly once.
    await until(
      async () => {
        const { rows } = await ctx.deps.pool.query<{ n: number }>(`select count(*)::int as n from sla_clocks where state = 'breached'`);
        return rows[0]!.n >= created.length ? true : undefined;
      },
      { timeoutMs: 20_000, what: `${created.length} clocks breached` },
    );
    const perClock = await ctx.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from breaches group by clock_id`);
    expect(perClock.rows).toHaveLength(created.length);
    expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
  });
});
