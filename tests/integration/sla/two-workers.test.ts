import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/shared/clock.js';
import { createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy, startSecondProcess, until } from '../../helpers/sla.js';

/**
 * Two worker processes (each with its own pools, Redis connections, reconciler and policy
 * cache) on the same database and Redis prefix, racing for the same deadlines: the timer jobs
 * are shared between them and both reconcilers sweep every 300 ms.
 */
let ctx: TestContext;
let second: Awaited<ReturnType<typeof startSecondProcess>>;
const TICKETS = 50;

beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '300', SLA_WORKER_CONCURRENCY: '8' } });
  await ctx.startWorkers();
  second = await startSecondProcess(ctx);
});
afterAll(async () => {
  await second?.close();
  await ctx?.close();
});

const total = async (counter: { get(): Promise<{ values: { value: number }[] }> }) => (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);

describe('two worker processes', () => {
  it('record exactly one breach per clock (and never a second warning)', async () => {
    await createPolicy(ctx, { targets: { firstResponse: 1, resolution: 2 }, warnAt: 0.5 });
    const ids: string[] = [];
    // Ten at a time: a 50-request burst on two cores delays the commits themselves by a second or more.
    for (let batch = 0; batch < TICKETS / 10; batch++) ids.push(...(await Promise.all(Array.from({ length: 10 }, () => createTicket(ctx)))).map((t) => t.id));
    const clocks = TICKETS * 2;

    await until(
      async () => {
        const { rows } = await ctx.deps.pool.query<{ n: number }>('select count(*)::int as n from breaches');
        return rows[0]!.n >= clocks ? true : undefined;
      },
      { timeoutMs: 15_000, what: `${clocks} breaches` },
    );
    // Let any straggling duplicate (a late job, a reconciler pass) have its chance to misbehave.
    await until(async () => ((await ctx.deps.queues.slaTimers.queue.getJobCounts('delayed', 'wait', 'active')).delayed === 0 ? true : undefined), { what: 'the timer queue drained' });

    const perClock = await ctx.deps.db.execute<{ clock_id: string; n: number }>(sql`select clock_id, count(*)::int as n from breaches group by clock_id`);
    expect(perClock.rows).toHaveLength(clocks);
    expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
    const clockStates = await ctx.deps.db.execute<{ state: string; n: number; warned: number }>(sql`select state, count(*)::int as n, count(warned_at)::int as warned from sla_clocks group by state`);
    expect(clockStates.rows).toHaveLength(1);
    expect(clockStates.rows[0]).toMatchObject({ state: 'breached', n: clocks });
    const warned = clockStates.rows[0]!.warned;

    const timeline = await ctx.deps.db.execute<{ ticket_id: string; type: string; metric: string; n: number }>(
      sql`select ticket_id, type, data->>'metric' as metric, count(*)::int as n from ticket_events where type in ('sla_warning', 'sla_breached') group by 1, 2, 3`,
    );
    expect(timeline.rows.every((r) => r.n === 1)).toBe(true);
    const breachedEvents = timeline.rows.filter((r) => r.type === 'sla_breached');
    expect(breachedEvents).toHaveLength(clocks);
    expect(new Set(breachedEvents.map((r) => r.ticket_id))).toEqual(new Set(ids));
    // A warning is sent at most once, and only before the breach: a clock whose warning job came
    // after its breach (both overdue at once under load) is simply not warned.
    expect(timeline.rows.filter((r) => r.type === 'sla_warning')).toHaveLength(warned);

    // Between them, the two processes counted each breach and warning once.
    const breaches = (await total(ctx.deps.metrics.slaBreaches)) + (await total(second.deps.metrics.slaBreaches));
    const warnings = (await total(ctx.deps.metrics.slaWarnings)) + (await total(second.deps.metrics.slaWarnings));
    expect(breaches).toBe(clocks);
    expect(warnings).toBe(warned);
    if (process.env.SLA_TEST_REPORT) {
      const late = await ctx.deps.db.execute(sql`select metric, round(avg(extract(epoch from breached_at - due_at))::numeric, 3) as avg_s, round(max(extract(epoch from breached_at - due_at))::numeric, 3) as max_s from sla_clocks group by 1`);
      console.error('breaches fired by process 1 / process 2:', await total(ctx.deps.metrics.slaBreaches), '/', await total(second.deps.metrics.slaBreaches), 'warned', warned, 'of', clocks, JSON.stringify(late.rows));
    }
  });
});
