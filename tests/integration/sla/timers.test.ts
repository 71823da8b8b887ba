import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timerJobId } from '../../../src/modules/sla/clocks/sla.timers.js';
import { systemClock } from '../../../src/shared/clock.js';
import { createTeam, createTicket } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { breachRows, bucketCounts, clockOf, clockRow, createPolicy, eventRows, getTicket, maxBound, parseHistogram, reply, scrapeMetrics, SECOND, until } from '../../helpers/sla.js';

/**
 * Real clock, real BullMQ workers, targets of seconds. The reconciler is slowed down to a
 * minute here, so what fires on time is the timer jobs themselves, not the safety net.
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: systemClock, env: { SLA_RECONCILE_INTERVAL_MS: '60000' } });
  await ctx.startWorkers();
});
afterAll(async () => ctx?.close());

const LATENESS = 'complaint_desk_sla_timer_lateness_seconds';
const ms = (iso: string | Date | null | undefined) => new Date(iso!).getTime();

// Concurrent: each test has its own team and policy, and only the first records lateness.
describe.concurrent('SLA timers on the real clock', () => {
  it('fires the warning, then the breach, each at its due time (lateness histogram)', async () => {
    const team = await createTeam(ctx);
    await createPolicy(ctx, { match: { teamIds: [team.id] }, targets: { firstResponse: 2 }, warnAt: 0.5 });
    const before = await scrapeMetrics(ctx);
    const beforeBreach = parseHistogram(before, LATENESS, { kind: 'breach' });
    const beforeWarning = parseHistogram(before, LATENESS, { kind: 'warning' });

    const tickets = await Promise.all(Array.from({ length: 5 }, () => createTicket(ctx, { teamId: team.id })));
    for (const t of tickets) {
      const clock = clockOf(t, 'first_response');
      expect(clock.state).toBe('running');
      expect(ms(clock.dueAt) - ms(clock.startedAt)).toBe(2 * SECOND);
    }
    await until(async () => ((await Promise.all(tickets.map((t) => breachRows(ctx, t.id)))).every((b) => b.length === 1) ? true : undefined), { timeoutMs: 10_000, what: 'every ticket breached' });

    const lateness: { warning: number; breach: number }[] = [];
    for (const t of tickets) {
      const types = (await eventRows(ctx, t.id)).map((e) => e.type).filter((type) => type.startsWith('sla_'));
      expect(types).toEqual(['sla_warning', 'sla_breached']);
      const row = await clockRow(ctx, t.id, 'first_response');
      expect(row.state).toBe('breached');
      const warnDueAt = ms(row.startedAt) + 1 * SECOND;
      // Never early; late by no more than queue and transaction latency.
      expect(ms(row.warnedAt)).toBeGreaterThanOrEqual(warnDueAt);
      expect(ms(row.breachedAt)).toBeGreaterThanOrEqual(ms(row.dueAt));
      lateness.push({ warning: ms(row.warnedAt) - warnDueAt, breach: ms(row.breachedAt) - ms(row.dueAt) });
      const [breach] = await breachRows(ctx, t.id);
      expect(breach).toMatchObject({ metric: 'first_response', state: 'open', clockId: row.id });
      expect(breach!.dueAt.getTime()).toBe(row.dueAt!.getTime());
    }

    const after = await scrapeMetrics(ctx);
    const breach = parseHistogram(after, LATENESS, { kind: 'breach' });
    const warning = parseHistogram(after, LATENESS, { kind: 'warning' });
    expect(breach.count - beforeBreach.count).toBe(5);
    expect(warning.count - beforeWarning.count).toBe(5);
    // Each observation is at most a second late (the bucket bound, not a mean): timers, not the
    // minute-long reconciler, fired them.
    expect(maxBound(breach)).toBeLessThanOrEqual(1);
    expect(maxBound(warning)).toBeLessThanOrEqual(1);
    expect(breach.sum).toBeGreaterThanOrEqual(0);
    expect(breach.sum / breach.count).toBeLessThan(0.5);
    if (process.env.SLA_TEST_REPORT) {
      console.error('lateness (ms, from the clock rows):', JSON.stringify(lateness));
      console.error('breach lateness histogram:', JSON.stringify({ sum: breach.sum, count: breach.count, buckets: bucketCounts(breach).filter((b) => b.count > 0) }));
      console.error('warning lateness histogram:', JSON.stringify({ sum: warning.sum, count: warning.count, buckets: bucketCounts(warning).filter((b) => b.count > 0) }));
    }
    const counter = /complaint_desk_sla_breaches_total\{channel="email",metric="first_response"\} (\d+)/.exec(after);
    expect(Number(counter?.[1])).toBeGreaterThanOrEqual(5);
  });

  it('a reply before due meets the clock: no breach, and the timer job that comes later does nothing', async () => {
    const team = await createTeam(ctx);
    // The reply must come before the warning (at 0.9 of 6 s): room for a stall of the machine.
    await createPolicy(ctx, { match: { teamIds: [team.id] }, targets: { firstResponse: 6 }, warnAt: 0.9 });
    const ticket = await createTicket(ctx, { teamId: team.id });
    const before = await clockRow(ctx, ticket.id, 'first_response');
    const breachJob = timerJobId('breach', before.id, before.generation);
    const warningJob = timerJobId('warning', before.id, before.generation);
    expect(await ctx.deps.queues.slaTimers.queue.getJob(breachJob)).toBeDefined();

    const answered = await reply(ctx, ticket.id);
    expect(clockOf(answered, 'first_response')).toMatchObject({ state: 'met', dueAt: null, breachedAt: null });
    const met = await clockRow(ctx, ticket.id, 'first_response');
    expect(met.generation).toBeGreaterThan(before.generation);

    // The old jobs run at the old due time, find a stale generation and are removed: wait for that.
    await until(async () => ((await ctx.deps.queues.slaTimers.queue.getJob(breachJob)) || (await ctx.deps.queues.slaTimers.queue.getJob(warningJob)) ? undefined : true), {
      timeoutMs: 15_000,
      what: 'the stale timer jobs processed',
    });
    expect(Date.now()).toBeGreaterThanOrEqual(before.dueAt!.getTime());
    expect(await breachRows(ctx, ticket.id)).toEqual([]);
    const types = (await eventRows(ctx, ticket.id)).map((e) => e.type);
    expect(types).not.toContain('sla_breached');
    expect(types).not.toContain('sla_warning');
    expect(clockOf(await getTicket(ctx, ticket.id), 'first_response').state).toBe('met');
  });

  it('a policy change (PUT) recomputes the due times of running clocks in the worker', async () => {
    const team = await createTeam(ctx);
    const body = { name: `recompute-${team.id}`, position: 0, match: { teamIds: [team.id] }, targets: { firstResponse: 3600, resolution: 7200 } };
    const policy = await createPolicy(ctx, body);
    const ticket = await createTicket(ctx, { teamId: team.id });
    const first = clockOf(ticket, 'first_response');
    expect(ms(first.dueAt) - ms(first.startedAt)).toBe(3600 * SECOND);
    const answeredElsewhere = await createTicket(ctx, { teamId: team.id });
    await reply(ctx, answeredElsewhere.id);

    const put = await ctx.app.inject({ method: 'PUT', url: `/v1/sla/policies/${policy.id}`, headers: { authorization: `Bearer ${ctx.adminToken}` }, payload: { ...body, targets: { firstResponse: 600, resolution: 9000 } } });
    expect(put.statusCode, put.body).toBe(200);

    const recomputed = await until(async () => {
      const t = await getTicket(ctx, ticket.id);
      return ms(clockOf(t, 'first_response').dueAt) - ms(first.startedAt) === 600 * SECOND ? t : undefined;
    }, { what: 'the recompute job to move the due time' });
    expect(ms(clockOf(recomputed, 'resolution').dueAt) - ms(first.startedAt)).toBe(9000 * SECOND);
    expect((await eventRows(ctx, ticket.id, 'sla_recomputed')).length).toBe(1);
    // A met clock stays met.
    expect(clockOf(await getTicket(ctx, answeredElsewhere.id), 'first_response').state).toBe('met');
  });
});
