import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createAgent, createTeam, createTicket, expectProblem, manualClock, MINUTE, tokenFor } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { breachRows, clockRow, createPolicy, eventRows, reply, SECOND } from '../../helpers/sla.js';

/** The operations side on a ManualClock: the breach queue, acknowledgements, escalation order, and commitments. */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
  await createPolicy(ctx, { position: 10, targets: { firstResponse: 60 } });
});
afterAll(async () => ctx?.close());

interface BreachJson {
  id: string;
  ticketId: string;
  channel: string;
  metric: string;
  priority: string;
  severity: number;
  teamId: string | null;
  breachedAt: string;
  state: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  ackNote: string | null;
  resolvedAt: string | null;
}
interface CommitmentJson {
  id: string;
  state: string;
  dueAt: string;
  remindedAt: string | null;
  overdueAt: string | null;
  closedAt: string | null;
}

async function queue(query = ''): Promise<{ items: BreachJson[]; nextCursor: string | null }> {
  const res = await client(ctx).get(`/v1/sla/breaches${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

describe('the breach queue', () => {
  it('orders by severity, then age; filters by state, channel, metric and team; acknowledges', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-02T08:00:00Z');
    const team = await createTeam(ctx);
    const customer = (name: string) => ({ customer: { name } });
    const low = await createTicket(ctx, { channel: 'email', priority: 'low', ...customer('a') });
    clock.advance(10 * SECOND);
    const urgentOld = await createTicket(ctx, { channel: 'twitter', priority: 'urgent', ...customer('b') });
    clock.advance(10 * SECOND);
    const normal = await createTicket(ctx, { channel: 'facebook', priority: 'normal', ...customer('c') });
    clock.advance(10 * SECOND);
    const urgentNew = await createTicket(ctx, { channel: 'email', priority: 'urgent', teamId: team.id, ...customer('d') });
    const answered = await createTicket(ctx, { channel: 'phone', priority: 'high', ...customer('e') });
    await reply(ctx, answered.id);
    // Each breaches at its own due time, so each has its own age.
    for (let i = 0; i < 4; i++) {
      clock.set(new Date(Date.parse('2026-03-02T08:01:00Z') + i * 10 * SECOND));
      expect((await ctx.deps.slaService.reconcile()).breaches).toBe(1);
    }

    const ids = (items: BreachJson[]) => items.map((b) => b.ticketId);
    const all = await queue();
    expect(ids(all.items)).toEqual([urgentOld.id, urgentNew.id, normal.id, low.id]);
    expect(all.items.map((b) => [b.priority, b.severity])).toEqual([['urgent', 3], ['urgent', 3], ['normal', 1], ['low', 0]]);
    expect(all.items[0]).toMatchObject({ channel: 'twitter', metric: 'first_response', state: 'open', breachedAt: '2026-03-02T08:01:10.000Z', acknowledgedBy: null });

    const firstPage = await queue('?limit=2');
    expect(ids(firstPage.items)).toEqual([urgentOld.id, urgentNew.id]);
    expect(firstPage.nextCursor).toBeTruthy();
    const secondPage = await queue(`?limit=2&cursor=${encodeURIComponent(firstPage.nextCursor!)}`);
    expect(ids(secondPage.items)).toEqual([normal.id, low.id]);
    expect(secondPage.nextCursor).toBeNull();

    expect(ids((await queue('?channel=email')).items)).toEqual([urgentNew.id, low.id]);
    expect(ids((await queue('?channel=email,twitter')).items)).toEqual([urgentOld.id, urgentNew.id, low.id]);
    expect(ids((await queue('?metric=first_response')).items)).toHaveLength(4);
    expect((await queue('?metric=resolution,commitment')).items).toEqual([]);
    expect(ids((await queue(`?teamId=${team.id}`)).items)).toEqual([urgentNew.id]);
    expectProblem(await client(ctx).get('/v1/sla/breaches?state=closed'), 400, { field: 'query.state.0' });
    expectProblem(await client(ctx).get('/v1/sla/breaches?metric=speed'), 400, { field: 'query.metric.0' });

    // Acknowledge: the admin key has no agent, so its name is recorded; an agent's key records the agent.
    const [oldBreach] = all.items;
    clock.advance(MINUTE);
    const acked = await client(ctx).post(`/v1/sla/breaches/${oldBreach!.id}/ack`, { note: 'calling them back' });
    expect(acked.statusCode, acked.body).toBe(200);
    expect(acked.json()).toMatchObject({ id: oldBreach!.id, state: 'acknowledged', acknowledgedBy: 'test admin', ackNote: 'calling them back', acknowledgedAt: clock.now().toISOString() });
    const again = await client(ctx).post(`/v1/sla/breaches/${oldBreach!.id}/ack`, {});
    expect(again.json()).toMatchObject({ state: 'acknowledged', acknowledgedBy: 'test admin', ackNote: 'calling them back' });

    const agent = await createAgent(ctx);
    const agentToken = await tokenFor(ctx, 'agent', agent.id);
    // A bare POST, without a body, is the usual ack.
    const byAgent = await client(ctx, agentToken).post(`/v1/sla/breaches/${all.items[2]!.id}/ack`);
    expect(byAgent.statusCode, byAgent.body).toBe(200);
    expect(byAgent.json()).toMatchObject({ state: 'acknowledged', acknowledgedBy: agent.id, ackNote: null });

    expect(ids((await queue()).items)).toEqual([urgentNew.id, low.id]);
    expect(ids((await queue('?state=acknowledged')).items)).toEqual([urgentOld.id, normal.id]);
    expect(ids((await queue('?state=open,acknowledged')).items)).toEqual([urgentOld.id, urgentNew.id, normal.id, low.id]);

    // Answering the customer resolves the breach; a resolved breach cannot be acknowledged.
    await reply(ctx, low.id);
    const [resolved] = await breachRows(ctx, low.id);
    expect(resolved).toMatchObject({ state: 'resolved' });
    expect(ids((await queue('?state=resolved')).items)).toEqual([low.id]);
    expectProblem(await client(ctx).post(`/v1/sla/breaches/${resolved!.id}/ack`), 409);
    expectProblem(await client(ctx).post('/v1/sla/breaches/00000000-0000-4000-8000-000000000000/ack'), 404);
    expectProblem(await client(ctx, await tokenFor(ctx, 'integration')).get('/v1/sla/breaches'), 403);
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/sla/breaches' })).statusCode).toBe(401);
  });
});

describe('escalation order', () => {
  it('a later level whose job comes first runs the earlier level before it', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-05T08:00:00Z');
    const [team, otherTeam] = [await createTeam(ctx), await createTeam(ctx)];
    await createPolicy(ctx, {
      position: 0,
      match: { teamIds: [team.id, otherTeam.id] },
      targets: { firstResponse: 60 },
      escalation: [
        { afterSec: 0, actions: [{ type: 'priority', raise: true }] },
        { afterSec: 60, actions: [{ type: 'reassign', teamId: otherTeam.id }] },
      ],
    });
    const ticket = await createTicket(ctx, { teamId: team.id, priority: 'normal' });
    const running = await clockRow(ctx, ticket.id, 'first_response');
    clock.advance(60 * SECOND);
    expect(await ctx.deps.slaService.fire('breach', running.id, running.generation)).toBe('fired');
    const [breach] = await breachRows(ctx, ticket.id);

    // Level 1's job is stuck (a backlog, a failed attempt); level 2's comes due and runs first.
    clock.advance(60 * SECOND);
    expect(await ctx.deps.slaService.escalate(breach!.id, 2)).toBe('escalated');
    expect((await eventRows(ctx, ticket.id, 'escalated')).map((e) => e.data.level)).toEqual([1, 2]);
    const after = (await client(ctx).get(`/v1/tickets/${ticket.id}`)).json<{ priority: string; teamId: string; escalationLevel: number }>();
    expect(after).toMatchObject({ priority: 'high', teamId: otherTeam.id, escalationLevel: 2 });
    // Level 1's job, when it finally runs, has nothing left to do.
    expect(await ctx.deps.slaService.escalate(breach!.id, 1)).toBe('stale');
    expect((await breachRows(ctx, ticket.id))[0]).toMatchObject({ escalationLevel: 2, state: 'open' });
  });
});

describe('commitments', () => {
  it('reminds an hour before due, breaches when overdue, and resolves when kept', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-03T08:00:00Z');
    const ticket = await createTicket(ctx);
    const dueAt = '2026-03-03T11:00:00.000Z';
    expectProblem(await client(ctx).post(`/v1/tickets/${ticket.id}/commitments`, { description: 'Refund', dueAt: '2026-03-03T07:00:00Z' }), 400, { field: 'body.dueAt' });
    const created = await client(ctx).post(`/v1/tickets/${ticket.id}/commitments`, { description: 'Refund reaches the card', dueAt });
    expect(created.statusCode, created.body).toBe(201);
    const commitment = created.json<CommitmentJson>();
    expect(commitment).toMatchObject({ state: 'open', dueAt, remindedAt: null, overdueAt: null });
    // Its timers are on the queue under deterministic ids.
    expect(await ctx.deps.queues.slaTimers.queue.getJob(`reminder-${commitment.id}-1`)).toBeDefined();
    expect(await ctx.deps.queues.slaTimers.queue.getJob(`due-${commitment.id}-1`)).toBeDefined();

    const fire = (kind: 'commitment-reminder' | 'commitment-due') => ctx.deps.commitments.fire(kind, commitment.id, 1);
    clock.set('2026-03-03T09:59:59Z');
    expect(await fire('commitment-reminder')).toBe('stale');
    clock.set('2026-03-03T10:00:00Z');
    expect(await fire('commitment-reminder')).toBe('fired');
    expect(await fire('commitment-reminder')).toBe('stale');
    expect(await eventRows(ctx, ticket.id, 'commitment_reminder')).toHaveLength(1);

    clock.set('2026-03-03T10:59:59Z');
    expect(await fire('commitment-due')).toBe('stale');
    expect(await ctx.deps.commitments.reconcile()).toBe(0);
    clock.set('2026-03-03T11:00:00Z');
    expect(await ctx.deps.commitments.reconcile()).toBe(1);
    expect(await fire('commitment-due')).toBe('stale');
    expect(await ctx.deps.commitments.reconcile()).toBe(0);
    expect(await eventRows(ctx, ticket.id, 'commitment_overdue')).toHaveLength(1);

    const onQueue = (await queue('?metric=commitment')).items;
    expect(onQueue).toHaveLength(1);
    expect(onQueue[0]).toMatchObject({ ticketId: ticket.id, metric: 'commitment', state: 'open', breachedAt: '2026-03-03T11:00:00.000Z' });
    const listed = (await client(ctx).get(`/v1/tickets/${ticket.id}/commitments`)).json<{ items: CommitmentJson[] }>().items;
    expect(listed).toEqual([expect.objectContaining({ id: commitment.id, remindedAt: '2026-03-03T10:00:00.000Z', overdueAt: '2026-03-03T11:00:00.000Z' })]);

    clock.advance(30 * MINUTE);
    const kept = await client(ctx).patch(`/v1/tickets/${ticket.id}/commitments/${commitment.id}`, { state: 'kept' });
    expect(kept.statusCode, kept.body).toBe(200);
    expect(kept.json()).toMatchObject({ state: 'kept', closedAt: '2026-03-03T11:30:00.000Z' });
    expect((await queue('?metric=commitment')).items).toEqual([]);
    expect((await queue('?metric=commitment&state=resolved')).items).toEqual([expect.objectContaining({ id: onQueue[0]!.id, resolvedAt: '2026-03-03T11:30:00.000Z' })]);
    expectProblem(await client(ctx).patch(`/v1/tickets/${ticket.id}/commitments/${commitment.id}`, { state: 'broken' }), 409);
    expect(await eventRows(ctx, ticket.id, 'commitment_kept')).toHaveLength(1);
  });

  it('a promise kept before it is due never breaches', async () => {
    const clock = manualClock(ctx);
    clock.set('2026-03-04T08:00:00Z');
    const ticket = await createTicket(ctx);
    const created = await client(ctx).post(`/v1/tickets/${ticket.id}/commitments`, { description: 'Call back', dueAt: '2026-03-04T09:00:00Z' });
    const commitment = created.json<CommitmentJson>();
    clock.set('2026-03-04T08:30:00Z');
    expect((await client(ctx).patch(`/v1/tickets/${ticket.id}/commitments/${commitment.id}`, { state: 'kept' })).statusCode).toBe(200);
    clock.set('2026-03-04T12:00:00Z');
    expect(await ctx.deps.commitments.reconcile()).toBe(0);
    expect(await ctx.deps.commitments.fire('commitment-due', commitment.id, 1)).toBe('stale');
    expect((await breachRows(ctx, ticket.id)).filter((b) => b.metric === 'commitment')).toEqual([]);
  });
});
