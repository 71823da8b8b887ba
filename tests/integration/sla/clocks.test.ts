import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NormalizedInbound } from '../../../src/channels/channel.types.js';
import { timerJobId } from '../../../src/modules/sla/clocks/sla.timers.js';
import { client, createTeam, createTicket, manualClock, MINUTE, patchTicket, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { breachRows, clockOf, clockRow, createCalendar, createPolicy, eventRows, getTicket, reply, SECOND, startSecondProcess } from '../../helpers/sla.js';

/**
 * The clock engine through the real API and Postgres, on a ManualClock: the tests drive time
 * and call the processor and reconciler themselves (no BullMQ workers run in this file; the
 * timer jobs the API schedules simply wait in Redis).
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const ms = (iso: string | Date | null | undefined) => new Date(iso!).getTime();

/** A team and a policy that only that team's tickets match, so the tests of this file stay apart. */
async function teamWithPolicy(policy: Record<string, unknown>) {
  const team = await createTeam(ctx);
  const created = await createPolicy(ctx, { match: { teamIds: [team.id] }, ...policy });
  return { team, policy: created };
}

describe('SLA clocks (manual clock)', () => {
  it('pending pauses the resolution clock and resuming moves its due time by the time spent waiting', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-02-02T08:00:00Z');
    const { team } = await teamWithPolicy({ targets: { firstResponse: 3600, resolution: 600 } });
    const ticket = await createTicket(ctx, { teamId: team.id });
    const t0 = ms(ticket.createdAt);
    expect(ms(clockOf(ticket, 'resolution').dueAt)).toBe(t0 + 600 * SECOND);

    clock.advance(100 * SECOND);
    const pending = await patchTicket(ctx, ticket, { status: 'pending' });
    expect(pending.statusCode, pending.body).toBe(200);
    clock.advance(1000 * SECOND);
    const whilePending = await getTicket(ctx, ticket.id);
    expect(whilePending.status).toBe('pending');
    expect(clockOf(whilePending, 'resolution')).toMatchObject({ state: 'paused', dueAt: null, remainingSec: 500 });
    // First response is ours to give whatever the customer does: it keeps running.
    expect(clockOf(whilePending, 'first_response')).toMatchObject({ state: 'running', dueAt: new Date(t0 + 3600 * SECOND).toISOString() });
    // Nothing fires for a paused clock, even long past its original due time.
    await ctx.deps.slaService.reconcile();
    expect(await breachRows(ctx, ticket.id)).toEqual([]);

    const reopened = await patchTicket(ctx, ticket, { status: 'open' });
    expect(reopened.statusCode, reopened.body).toBe(200);
    const after = await getTicket(ctx, ticket.id);
    const resolution = clockOf(after, 'resolution');
    expect(resolution.state).toBe('running');
    expect(ms(resolution.dueAt) - (t0 + 600 * SECOND)).toBe(1000 * SECOND);
    expect(resolution.remainingSec).toBe(500);
    expect(ms(clockOf(after, 'first_response').dueAt)).toBe(t0 + 3600 * SECOND);

    // The moved due time is the one that counts: not a second earlier, exactly at it.
    clock.set(new Date(t0 + 1600 * SECOND - 1));
    await ctx.deps.slaService.reconcile();
    expect((await breachRows(ctx, ticket.id)).filter((b) => b.metric === 'resolution')).toEqual([]);
    clock.set(new Date(t0 + 1600 * SECOND));
    await ctx.deps.slaService.reconcile();
    const breaches = (await breachRows(ctx, ticket.id)).filter((b) => b.metric === 'resolution');
    expect(breaches).toHaveLength(1);
    expect(breaches[0]!.dueAt.getTime()).toBe(t0 + 1600 * SECOND);
  });

  it('a business-hours policy due over a weekend fires on Monday', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-01-09T15:00:00Z'); // Friday 16:00 in Warsaw (CET, UTC+1)
    const calendar = await createCalendar(ctx);
    const { team } = await teamWithPolicy({ calendarId: calendar.id, targets: { firstResponse: 7200 } });
    const ticket = await createTicket(ctx, { teamId: team.id });
    const first = clockOf(ticket, 'first_response');
    // One business hour on Friday (16-17), the second on Monday (9-10): Monday 10:00 local.
    expect(first.dueAt).toBe('2026-01-12T09:00:00.000Z');

    clock.set('2026-01-10T12:00:00Z'); // Saturday: the clock stands still over the weekend
    expect(clockOf(await getTicket(ctx, ticket.id), 'first_response').remainingSec).toBe(3600);
    await ctx.deps.slaService.reconcile();
    expect(await breachRows(ctx, ticket.id)).toEqual([]);
    expect(await eventRows(ctx, ticket.id, 'sla_warning')).toEqual([]);

    clock.set('2026-01-12T08:59:59Z'); // Monday 09:59:59 local: warned (75 % at 09:30), not breached
    await ctx.deps.slaService.reconcile();
    expect(await breachRows(ctx, ticket.id)).toEqual([]);
    expect(await eventRows(ctx, ticket.id, 'sla_warning')).toHaveLength(1);
    expect(clockOf(await getTicket(ctx, ticket.id), 'first_response')).toMatchObject({ state: 'running', remainingSec: 1 });

    clock.set('2026-01-12T09:00:00Z'); // Monday 10:00 local
    await ctx.deps.slaService.reconcile();
    const breaches = await breachRows(ctx, ticket.id);
    expect(breaches).toHaveLength(1);
    expect(breaches[0]).toMatchObject({ metric: 'first_response', state: 'open' });
    expect(breaches[0]!.breachedAt.toISOString()).toBe('2026-01-12T09:00:00.000Z');
    expect(clockOf(await getTicket(ctx, ticket.id), 'first_response')).toMatchObject({ state: 'breached', breachedAt: '2026-01-12T09:00:00.000Z' });
  });

  it('a reply after due but before the timer ran records the breach, already resolved', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-02-03T08:00:00Z');
    const { team } = await teamWithPolicy({ targets: { firstResponse: 60 } });
    const ticket = await createTicket(ctx, { teamId: team.id });
    const running = await clockRow(ctx, ticket.id, 'first_response');

    clock.advance(90 * SECOND); // the breach job is "stuck" in a slow queue: nobody fired it
    const answered = await reply(ctx, ticket.id);
    expect(clockOf(answered, 'first_response')).toMatchObject({ state: 'breached', breachedAt: running.dueAt!.toISOString() });
    const breaches = await breachRows(ctx, ticket.id);
    expect(breaches).toHaveLength(1);
    expect(breaches[0]).toMatchObject({ metric: 'first_response', state: 'resolved', clockId: running.id });
    expect(breaches[0]!.dueAt.getTime()).toBe(running.dueAt!.getTime());
    expect(breaches[0]!.resolvedAt!.getTime()).toBe(ms(clock.now()));
    const breachedEvents = await eventRows(ctx, ticket.id, 'sla_breached');
    expect(breachedEvents).toHaveLength(1);
    expect(breachedEvents[0]!.data).toMatchObject({ metric: 'first_response', late: true, breachId: breaches[0]!.id });

    // The job that finally runs, and the reconciler, find nothing more to do.
    expect(await ctx.deps.slaService.fire('breach', running.id, running.generation)).toBe('stale');
    await ctx.deps.slaService.reconcile();
    expect(await breachRows(ctx, ticket.id)).toHaveLength(1);
    const resolvedQueue = await client(ctx).get('/v1/sla/breaches?state=resolved');
    expect(resolvedQueue.json<{ items: { ticketId: string }[] }>().items.map((b) => b.ticketId)).toContain(ticket.id);
    const openQueue = await client(ctx).get('/v1/sla/breaches');
    expect(openQueue.json<{ items: { ticketId: string }[] }>().items.map((b) => b.ticketId)).not.toContain(ticket.id);
  });

  it('next_response starts at a customer message after the first response, and the next reply meets it', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-02-04T08:00:00Z');
    await createPolicy(ctx, { match: { channels: ['facebook'] }, targets: { firstResponse: 600, nextResponse: 300 } });
    const psid = unique('psid');
    const conversation = `t_${psid}`;
    const ingest = async (text: string) => {
      const id = unique('mid');
      const message: NormalizedInbound = {
        channel: 'facebook',
        providerMessageId: id,
        kind: 'message',
        sender: { kind: 'facebook', address: `105320418834911:${psid}`, displayName: 'Customer' },
        thread: { conversationKey: conversation },
        text,
        attachments: [],
        sentAt: clock.now(),
      };
      const result = await ctx.deps.intake.ingest({ channel: 'facebook', body: Buffer.from(JSON.stringify({ id, text })), contentType: 'application/json' }, { messages: [message], skipped: [] });
      const outcome = result.messages[0]!;
      if (outcome.result !== 'created') throw new Error(`not ingested: ${JSON.stringify(outcome)}`);
      return outcome.ticketId;
    };

    const ticketId = await ingest('My order never came');
    const t0 = ms(clock.now());
    let ticket = await getTicket(ctx, ticketId);
    expect(ticket.sla?.map((c) => c.metric)).toEqual(['first_response']);

    clock.advance(60 * SECOND);
    ticket = await reply(ctx, ticketId);
    expect(clockOf(ticket, 'first_response').state).toBe('met');
    expect(ticket.sla?.map((c) => c.metric)).not.toContain('next_response');

    clock.advance(60 * SECOND);
    expect(await ingest('Still nothing, where is it?')).toBe(ticketId);
    ticket = await getTicket(ctx, ticketId);
    const next = clockOf(ticket, 'next_response');
    expect(next).toMatchObject({ state: 'running', startedAt: new Date(t0 + 120 * SECOND).toISOString(), dueAt: new Date(t0 + 420 * SECOND).toISOString() });

    // A second message while the answer is still owed is covered by the same clock.
    clock.advance(30 * SECOND);
    expect(await ingest('Hello??')).toBe(ticketId);
    expect(clockOf(await getTicket(ctx, ticketId), 'next_response')).toMatchObject({ state: 'running', dueAt: next.dueAt });

    clock.advance(60 * SECOND);
    ticket = await reply(ctx, ticketId);
    expect(clockOf(ticket, 'next_response')).toMatchObject({ state: 'met', dueAt: null });
    expect(await breachRows(ctx, ticketId)).toEqual([]);
  });

  it('the at-risk list shows a running clock due within the window and not one due after it', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-02-05T08:00:00Z');
    const soon = await teamWithPolicy({ targets: { firstResponse: 10 * 60 } });
    const later = await teamWithPolicy({ targets: { firstResponse: 20 * 60 } });
    const dueIn10 = await createTicket(ctx, { teamId: soon.team.id });
    const dueIn20 = await createTicket(ctx, { teamId: later.team.id });
    const answered = await createTicket(ctx, { teamId: soon.team.id });
    await reply(ctx, answered.id);

    const res = await client(ctx).get('/v1/sla/at-risk?within=15m');
    expect(res.statusCode, res.body).toBe(200);
    const items = res.json<{ items: { ticketId: string; metric: string; remainingSec: number; dueAt: string; teamId: string }[] }>().items;
    const ids = items.map((i) => i.ticketId);
    expect(ids).toContain(dueIn10.id);
    expect(ids).not.toContain(dueIn20.id);
    expect(ids).not.toContain(answered.id);
    expect(items.find((i) => i.ticketId === dueIn10.id)).toMatchObject({ metric: 'first_response', remainingSec: 600, teamId: soon.team.id });
    for (let i = 1; i < items.length; i++) expect(ms(items[i]!.dueAt)).toBeGreaterThanOrEqual(ms(items[i - 1]!.dueAt));

    const wider = await client(ctx).get(`/v1/sla/at-risk?within=1h&teamId=${later.team.id}`);
    expect(wider.json<{ items: { ticketId: string }[] }>().items.map((i) => i.ticketId)).toEqual([dueIn20.id]);

    // Ten minutes on, the first is overdue (the breach queue's business, not at-risk any more).
    clock.advance(10 * MINUTE + SECOND);
    const afterwards = (await client(ctx).get('/v1/sla/at-risk?within=15m')).json<{ items: { ticketId: string }[] }>().items.map((i) => i.ticketId);
    expect(afterwards).not.toContain(dueIn10.id);
    expect(afterwards).toContain(dueIn20.id);

    expect((await client(ctx).get('/v1/sla/at-risk?within=15 minutes')).statusCode).toBe(400);
  });

  it('concurrent fires of one deadline, from two processes, act exactly once', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-02-06T08:00:00Z');
    const { team } = await teamWithPolicy({ targets: { firstResponse: 60 }, warnAt: 0.5 });
    const ticket = await createTicket(ctx, { teamId: team.id });
    const row = await clockRow(ctx, ticket.id, 'first_response');
    const other = await startSecondProcess(ctx, { workers: false });
    try {
      const processors = [ctx.deps.slaService, other.deps.slaService];
      const fireAll = (kind: 'warning' | 'breach') => Promise.all(Array.from({ length: 10 }, (_, i) => processors[i % 2]!.fire(kind, row.id, row.generation)));

      expect(await fireAll('breach')).toEqual(Array(10).fill('early'));
      clock.advance(30 * SECOND);
      const warnings = await fireAll('warning');
      expect(warnings.filter((r) => r === 'fired')).toHaveLength(1);
      expect(warnings.filter((r) => r === 'stale')).toHaveLength(9);

      clock.advance(30 * SECOND);
      const fired = await fireAll('breach');
      expect(fired.filter((r) => r === 'fired')).toHaveLength(1);
      expect(fired.filter((r) => r === 'stale')).toHaveLength(9);
      expect(await breachRows(ctx, ticket.id)).toHaveLength(1);
      expect(await eventRows(ctx, ticket.id, 'sla_breached')).toHaveLength(1);
      expect(await eventRows(ctx, ticket.id, 'sla_warning')).toHaveLength(1);
      // A reconciler pass on each process afterwards changes nothing.
      await Promise.all(processors.map((p) => p.reconcile()));
      expect(await breachRows(ctx, ticket.id)).toHaveLength(1);
      // The job the API scheduled for this deadline carries the same (clock, generation) id.
      expect(await ctx.deps.queues.slaTimers.queue.getJob(timerJobId('breach', row.id, row.generation))).toBeDefined();
    } finally {
      await other.close();
    }
  });
});
