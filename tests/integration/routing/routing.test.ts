import { and, eq, inArray, sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDependencies } from '../../../src/dependencies.js';
import { agents } from '../../../src/modules/agents/agents.table.js';
import { ticketEvents } from '../../../src/modules/tickets/ticket-events.table.js';
import { tickets } from '../../../src/modules/tickets/tickets.table.js';
import { client, createAgent, createTeam, createTicket, manualClock, patchTicket, unique, type TicketJson } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  // A fast sweep: the language fallback's deadline is noticed by it.
  ctx = await createTestContext({ env: { ROUTING_SWEEP_INTERVAL_MS: '300' } });
  await ctx.startWorkers();
});
afterAll(async () => ctx?.close());

const setPresence = (agentId: string, status: string) =>
  ctx.app.inject({ method: 'PUT', url: `/v1/agents/${agentId}/presence`, headers: bearer(ctx.adminToken), payload: { status } });
const ticketOf = async (id: string) => (await client(ctx).get(`/v1/tickets/${id}`)).json<TicketJson>();
/** Bounded wait on a condition (no sleeps for timing). */
async function assigneeOf(id: string, expected: string | null, timeoutMs = 10_000) {
  await expect.poll(async () => (await ticketOf(id)).assigneeId, { timeout: timeoutMs, interval: 50 }).toBe(expected);
}
async function assignedEvent(id: string) {
  const items = (await client(ctx).get(`/v1/tickets/${id}/events?limit=200`)).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
  return items.filter((e) => e.type === 'assigned').at(-1)?.data;
}
async function onlineAgent(teamId: string, overrides: Record<string, unknown> = {}) {
  const agent = await createAgent(ctx, { teamId, languages: ['en'], ...overrides });
  expect((await setPresence(agent.id, 'online')).statusCode).toBe(200);
  return agent;
}

describe('routing with real workers', () => {
  it('a new ticket goes at once to the online agent of its team with the lowest load; none to offline or away agents', async () => {
    const team = await createTeam(ctx);
    const busy = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const lighter = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const offline = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const away = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    // Loads: busy 2, lighter 1 (assigned by hand), offline and away 0.
    for (const assigneeId of [busy.id, busy.id, lighter.id]) await createTicket(ctx, { teamId: team.id, language: 'en', assigneeId });
    await setPresence(busy.id, 'online');
    await setPresence(lighter.id, 'online');
    await setPresence(away.id, 'away');
    expect(offline.id).toBeTruthy();

    const ticket = await createTicket(ctx, { teamId: team.id, language: 'en' });
    await assigneeOf(ticket.id, lighter.id);
    expect(await assignedEvent(ticket.id)).toMatchObject({ from: null, to: lighter.id, by: 'routing', reason: 'least_loaded', languageMatched: true });
    const after = await ticketOf(ticket.id);
    expect(after.version).toBe(ticket.version + 1);
    const latency = await ctx.deps.metrics.registry.getSingleMetricAsString('complaint_desk_routing_latency_seconds');
    expect(latency).toMatch(/complaint_desk_routing_latency_seconds_count\{channel="email",reason="least_loaded"\} [1-9]/);

    // Everyone offline or away: the next one waits.
    await setPresence(busy.id, 'offline');
    await setPresence(lighter.id, 'away');
    const waiting = await createTicket(ctx, { teamId: team.id, language: 'en' });
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(0);
    expect((await ticketOf(waiting.id)).assigneeId).toBeNull();
    // Coming online pulls it at once.
    await setPresence(busy.id, 'online');
    await assigneeOf(waiting.id, busy.id);
  });

  it('respects capacity per channel, and a freed slot pulls the most urgent waiting ticket at once', async () => {
    const team = await createTeam(ctx);
    const agent = await onlineAgent(team.id); // phone capacity 1 (the default)
    const first = await createTicket(ctx, { teamId: team.id, channel: 'phone', customer: { phone: '+14155550101' }, language: 'en' });
    await assigneeOf(first.id, agent.id);
    const low = await createTicket(ctx, { teamId: team.id, channel: 'phone', customer: { phone: '+14155550102' }, language: 'en', priority: 'low' });
    const urgent = await createTicket(ctx, { teamId: team.id, channel: 'phone', customer: { phone: '+14155550103' }, language: 'en', priority: 'urgent' });
    // E-mail slots are separate: an e-mail ticket still goes to the same agent.
    const mail = await createTicket(ctx, { teamId: team.id, language: 'en' });
    await assigneeOf(mail.id, agent.id);
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(0);
    expect((await ticketOf(low.id)).assigneeId).toBeNull();
    expect((await ticketOf(urgent.id)).assigneeId).toBeNull();

    // Pending frees the phone slot: the urgent ticket (due soonest, then priority) takes it.
    expect((await patchTicket(ctx, first, { status: 'pending' })).statusCode).toBe(200);
    await assigneeOf(urgent.id, agent.id);
    expect((await ticketOf(low.id)).assigneeId).toBeNull();
    const me = (await client(ctx).get(`/v1/agents/${agent.id}`)).json();
    expect(me.load).toMatchObject({ phone: 1, email: 1 });
  });

  it('a Hebrew ticket waits for a Hebrew speaker, and falls back to anyone after languageFallbackSec', async () => {
    const team = await createTeam(ctx, { routing: { languageFallbackSec: 300 } });
    const english = await onlineAgent(team.id, { languages: ['en'] });
    const hebrew = await createAgent(ctx, { teamId: team.id, languages: ['he'] });

    const first = await createTicket(ctx, { teamId: team.id, language: 'he' });
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(0);
    expect((await ticketOf(first.id)).assigneeId).toBeNull();
    await setPresence(hebrew.id, 'online');
    await assigneeOf(first.id, hebrew.id);
    expect(await assignedEvent(first.id)).toMatchObject({ reason: 'least_loaded', languageMatched: true });

    await setPresence(hebrew.id, 'offline');
    const second = await createTicket(ctx, { teamId: team.id, language: 'he' });
    manualClock(ctx).advance(299_000);
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(0);
    manualClock(ctx).advance(2_000);
    // The sweep notices the deadline.
    await assigneeOf(second.id, english.id);
    expect(await assignedEvent(second.id)).toMatchObject({ by: 'routing', reason: 'language_fallback', languageMatched: false });
  });

  it('a returning customer goes back to their agent, even when another is less loaded', async () => {
    const team = await createTeam(ctx);
    const a = await onlineAgent(team.id);
    const b = await onlineAgent(team.id);
    const email = `${unique('back')}@example.com`;
    const first = await createTicket(ctx, { teamId: team.id, language: 'en', customer: { email } });
    await expect.poll(async () => (await ticketOf(first.id)).assigneeId).not.toBeNull();
    const theirs = (await ticketOf(first.id)).assigneeId!;
    const other = theirs === a.id ? b.id : a.id;
    // Now their agent has load 1 and the other 0: least_loaded would pick the other.
    const second = await createTicket(ctx, { teamId: team.id, language: 'en', customer: { email } });
    await assigneeOf(second.id, theirs);
    expect(await assignedEvent(second.id)).toMatchObject({ reason: 'sticky', languageMatched: true });
    const stranger = await createTicket(ctx, { teamId: team.id, language: 'en' });
    await assigneeOf(stranger.id, other);
  });

  it('two routers over 500 tickets and 20 agents: no double assignment, no agent over capacity', async () => {
    const team = await createTeam(ctx, { capacity: { email: 6, phone: 1, facebook: 3, twitter: 3 } });
    const staff = [];
    for (let i = 0; i < 20; i++) staff.push(await createAgent(ctx, { teamId: team.id, languages: ['en'] }));
    const channels = ['email', 'email', 'phone', 'facebook'] as const;
    for (let i = 0; i < 500; i++) {
      const channel = channels[i % channels.length]!;
      const customer = channel === 'phone' ? { phone: `+1415555${String(1000 + i).padStart(4, '0')}` } : { email: `${unique('load')}@example.com` };
      await createTicket(ctx, { teamId: team.id, language: 'en', channel, customer });
    }
    // Everyone comes online at once in the database (no triggers), then two routers (two
    // dependency sets: two pools, as two processes) and the workers' sweep race for the queue.
    const ids = staff.map((s) => s.id);
    await ctx.deps.db.update(agents).set({ presence: 'online', lastActivityAt: ctx.clock.now() }).where(inArray(agents.id, ids));
    const second = createDependencies(ctx.config, { clock: ctx.clock, logger: pino({ level: 'silent' }) });
    try {
      await Promise.all([ctx.deps.routing.routeTeam(team.id), second.routing.routeTeam(team.id), ctx.deps.routing.routeTeam(team.id), second.routing.routeTeam(team.id)]);
    } finally {
      await second.close();
    }
    // 20 agents × (6 e-mail + 1 phone + 3 Facebook) = 200 slots: email 250 tickets > 120, phone 125 > 20, facebook 125 > 60.
    const loads = await ctx.deps.db
      .select({ agentId: tickets.assigneeId, channel: tickets.channel, n: sql<number>`count(*)::int` })
      .from(tickets)
      .where(and(eq(tickets.teamId, team.id), inArray(tickets.assigneeId, ids)))
      .groupBy(tickets.assigneeId, tickets.channel);
    const cap: Record<string, number> = { email: 6, phone: 1, facebook: 3 };
    for (const row of loads) expect(row.n, `${row.agentId} ${row.channel}`).toBeLessThanOrEqual(cap[row.channel]!);
    expect(loads.reduce((sum, r) => sum + r.n, 0)).toBe(200);
    const doubles = await ctx.deps.db
      .select({ ticketId: ticketEvents.ticketId, n: sql<number>`count(*)::int` })
      .from(ticketEvents)
      .innerJoin(tickets, eq(tickets.id, ticketEvents.ticketId))
      .where(and(eq(tickets.teamId, team.id), eq(ticketEvents.type, 'assigned')))
      .groupBy(ticketEvents.ticketId)
      .having(sql`count(*) > 1`);
    expect(doubles).toEqual([]);
    // Most of its time is creating the 500 tickets through the API (2 s of routing in 38 s at load average 20).
  }, 120_000);
});
