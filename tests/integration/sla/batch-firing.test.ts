import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fireTimers, type FireRequest } from '../../../src/modules/sla/clocks/sla.firing.js';
import { createTeam, createTicket, manualClock } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy, eventRows, reply, SECOND } from '../../helpers/sla.js';

/**
 * Set-based firing (sla.firing.ts): many timers, duplicates and stale jobs in one transaction,
 * and batches racing each other and ticket changes over the same clocks. ManualClock; the
 * tests call fireTimers themselves (no BullMQ worker runs in this file).
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const firingDeps = () => ({ ...ctx.deps, clock: ctx.clock });

async function ticketsWithClocks(count: number) {
  const team = await createTeam(ctx);
  await createPolicy(ctx, { match: { teamIds: [team.id] }, targets: { firstResponse: 60, resolution: 3600 }, warnAt: 0.5 });
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await createTicket(ctx, { teamId: team.id })).id);
  const { rows } = await ctx.deps.pool.query<{ id: string; ticket_id: string; metric: string; generation: number }>(
    'select id, ticket_id, metric, generation from sla_clocks where ticket_id = any($1) order by ticket_id, metric',
    [ids],
  );
  const clocks = (metric: string) => rows.filter((r) => r.metric === metric);
  return { ids, firstResponse: clocks('first_response'), resolution: clocks('resolution') };
}

describe('firing timers in batches', () => {
  it('fires each due timer once, answers duplicates, stale generations and early jobs, and records everything', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-02T10:00:00Z');
    const { ids, firstResponse, resolution } = await ticketsWithClocks(12);
    clock.advance(61 * SECOND);

    const requests: FireRequest[] = [
      // Breaches listed before warnings: the batch still warns first.
      ...firstResponse.map((c) => ({ kind: 'breach' as const, clockId: c.id, generation: c.generation })),
      ...firstResponse.map((c) => ({ kind: 'warning' as const, clockId: c.id, generation: c.generation })),
      ...firstResponse.map((c) => ({ kind: 'breach' as const, clockId: c.id, generation: c.generation })),
      { kind: 'breach', clockId: firstResponse[0]!.id, generation: firstResponse[0]!.generation + 1 },
      ...resolution.map((c) => ({ kind: 'breach' as const, clockId: c.id, generation: c.generation })),
      { kind: 'breach', clockId: '00000000-0000-4000-8000-000000000000', generation: 1 },
    ];
    const results = await fireTimers(firingDeps(), requests);
    const n = firstResponse.length;
    expect(results.slice(0, n)).toEqual(Array(n).fill('fired'));
    expect(results.slice(n, 2 * n)).toEqual(Array(n).fill('fired'));
    expect(results.slice(2 * n, 3 * n)).toEqual(Array(n).fill('stale'));
    expect(results[3 * n]).toBe('stale');
    expect(results.slice(3 * n + 1, 4 * n + 1)).toEqual(Array(n).fill('early'));
    expect(results[4 * n + 1]).toBe('stale');

    const breaches = await ctx.deps.pool.query<{ clock_id: string; metric: string; channel: string; severity: number; due_at: Date; breached_at: Date }>(
      'select clock_id, metric, channel, severity, due_at, breached_at from breaches where ticket_id = any($1)',
      [ids],
    );
    expect(breaches.rows.map((b) => b.clock_id).sort()).toEqual(firstResponse.map((c) => c.id).sort());
    for (const b of breaches.rows) {
      expect(b).toMatchObject({ metric: 'first_response', channel: 'email' });
      expect(b.breached_at.getTime() - b.due_at.getTime()).toBe(1 * SECOND);
    }
    const clocks = await ctx.deps.pool.query<{ state: string; warned: boolean; breached: boolean; n: number }>(
      `select state, warned_at is not null as warned, breached_at is not null as breached, count(*)::int as n
         from sla_clocks where ticket_id = any($1) group by 1, 2, 3 order by 1`,
      [ids],
    );
    expect(clocks.rows).toEqual([
      { state: 'breached', warned: true, breached: true, n },
      { state: 'running', warned: false, breached: false, n },
    ]);
    for (const id of ids) {
      const timeline = (await eventRows(ctx, id)).filter((e) => e.type.startsWith('sla_'));
      expect(timeline.map((e) => e.type)).toEqual(['sla_warning', 'sla_breached']);
      expect(timeline[1]!.data).toMatchObject({ metric: 'first_response', breachId: expect.any(String) });
    }
    const stream = await ctx.deps.pool.query<{ type: string; n: number }>(
      `select type, count(*)::int as n from sla_stream_events where data->>'ticketId' = any($1) group by type order by type`,
      [ids],
    );
    expect(stream.rows).toEqual([
      { type: 'breach', n },
      { type: 'warning', n },
    ]);
  });

  it('lets batches race each other and replies over the same clocks without deadlock: one breach per clock', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-03T10:00:00Z');
    const { ids, firstResponse } = await ticketsWithClocks(16);
    clock.advance(61 * SECOND);
    const requests = firstResponse.map((c) => ({ kind: 'breach' as const, clockId: c.id, generation: c.generation }));

    // Two batches in opposite request order, and replies that lock each ticket and then its clocks.
    const [a, b] = await Promise.all([
      fireTimers(firingDeps(), requests),
      fireTimers(firingDeps(), [...requests].reverse()),
      ...ids.filter((_, i) => i % 2 === 0).map((id) => reply(ctx, id)),
    ]);
    const firedByBatches = requests.filter((_, i) => a![i] === 'fired' || b!.at(-1 - i) === 'fired').length;
    // No clock fired by both batches.
    expect(requests.some((_, i) => a![i] === 'fired' && b!.at(-1 - i) === 'fired')).toBe(false);

    const perClock = await ctx.deps.pool.query<{ clock_id: string; n: number }>(
      'select clock_id, count(*)::int as n from breaches where ticket_id = any($1) group by clock_id',
      [ids],
    );
    expect(perClock.rows).toHaveLength(firstResponse.length);
    expect(perClock.rows.every((r) => r.n === 1)).toBe(true);
    // A reply that got its ticket's clock first records the (late) breach itself; the batches fired the rest.
    const byReplies = await ctx.deps.pool.query<{ n: number }>(
      `select count(*)::int as n from breaches where ticket_id = any($1) and state = 'resolved' and resolved_at = breached_at`,
      [ids],
    );
    expect(firedByBatches + byReplies.rows[0]!.n).toBeGreaterThanOrEqual(firstResponse.length);
  });
  it('leaves the clocks another transaction holds: a fired one takes no lock, a running one is left to its holder', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-04T10:00:00Z');
    const { firstResponse } = await ticketsWithClocks(3);
    clock.advance(61 * SECOND);
    const [fired, held, free] = firstResponse.map((c) => ({ kind: 'breach' as const, clockId: c.id, generation: c.generation }));
    expect(await fireTimers(firingDeps(), [fired!])).toEqual(['fired']);

    // Another transaction holds the fired clock's row and a running one (a sweep firing it, a
    // reply stopping it). Locking every requested row would make this batch wait until that
    // transaction ends (this test would hang until its timeout); it must not.
    const holder = await ctx.deps.pool.connect();
    try {
      await holder.query('begin');
      await holder.query('select id from sla_clocks where id = any($1) order by id for update', [[fired!.clockId, held!.clockId]]);
      expect(await fireTimers(firingDeps(), [fired!, held!, free!])).toEqual(['stale', 'stale', 'fired']);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    // The holder rolled back: the running clock is still due, and the next batch (or sweep) fires it.
    expect(await fireTimers(firingDeps(), [held!])).toEqual(['fired']);
  });

  it('sweeps leave the clocks another transaction holds and fire the rest; the next sweep fires the one left', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-05T10:00:00Z');
    const { ids, firstResponse } = await ticketsWithClocks(6);
    clock.advance(61 * SECOND);
    const held = firstResponse[2]!.id;
    const breachedClocks = async () =>
      (await ctx.deps.pool.query<{ clock_id: string }>(`select clock_id from breaches where ticket_id = any($1) and metric = 'first_response'`, [ids])).rows
        .map((r) => r.clock_id)
        .sort();

    // A timer job (or another process' sweep) is firing one of the overdue clocks: the sweep does
    // not wait for it (with a waiting sweep this test would hang until its timeout).
    const holder = await ctx.deps.pool.connect();
    try {
      await holder.query('begin');
      await holder.query('select id from sla_clocks where id = $1 for update', [held]);
      // (The earlier tests' clocks are overdue too by now: this sweep fires them as well.)
      await ctx.deps.slaService.sweepDue();
      expect(await breachedClocks()).toEqual(firstResponse.map((c) => c.id).filter((id) => id !== held).sort());
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    // The holder rolled back: the clock is still due, and the next sweep fires it.
    expect((await ctx.deps.slaService.sweepDue()).breaches).toBeGreaterThanOrEqual(1);
    expect(await breachedClocks()).toEqual(firstResponse.map((c) => c.id).sort());
  });

  it('a sweep finding both a warning and a breach overdue (a stall, a lost Redis) sends the warning, then the breach', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-04T10:00:00Z');
    const { ids, firstResponse } = await ticketsWithClocks(3);
    // Past the warning (30 s) and the breach (60 s) of first response; no timer fired either.
    clock.advance(90 * SECOND);
    await ctx.deps.slaService.sweepDue();
    for (const id of ids) {
      const types = (await eventRows(ctx, id)).map((e) => e.type).filter((type) => type.startsWith('sla_'));
      expect(types).toEqual(['sla_warning', 'sla_breached']);
    }
    const { rows } = await ctx.deps.pool.query<{ warned: number; breached: number }>(
      'select count(warned_at)::int as warned, count(breached_at)::int as breached from sla_clocks where id = any($1)',
      [firstResponse.map((c) => c.id)],
    );
    expect(rows[0]).toEqual({ warned: 3, breached: 3 });
  });
});
