import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createAgent, createTeam, createTicket, manualClock, tokenFor, type TicketJson } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { createPolicy } from '../../helpers/sla.js';

// No workers: routing runs when the test calls it. Policies: low-priority tickets get a 10-minute
// first response, the others 2 hours (calendar time), so SLA order and priority order differ.
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
  await createPolicy(ctx, { position: 0, match: { priorities: ['low'] }, targets: { firstResponse: 600 }, warnAt: 0.5 });
  await createPolicy(ctx, { position: 1, match: {}, targets: { firstResponse: 7200 } });
});
afterAll(async () => ctx?.close());

const setPresence = (agentId: string, status: string) =>
  ctx.app.inject({ method: 'PUT', url: `/v1/agents/${agentId}/presence`, headers: bearer(ctx.adminToken), payload: { status } });
const ticketOf = async (id: string) => (await client(ctx).get(`/v1/tickets/${id}`)).json<TicketJson>();

describe('routing by SLA', () => {
  it("order sla offers the ticket whose running clock is due soonest first, before a higher priority", async () => {
    const team = await createTeam(ctx, { routing: { enabled: false, order: 'sla' } });
    const agent = await createAgent(ctx, { teamId: team.id, languages: ['en'], capacity: { email: 1 } });
    const token = await tokenFor(ctx, 'agent', agent.id);
    const urgent = await createTicket(ctx, { teamId: team.id, language: 'en', priority: 'urgent' });
    const low = await createTicket(ctx, { teamId: team.id, language: 'en', priority: 'low' });
    await setPresence(agent.id, 'online');
    expect((await client(ctx, token).post('/v1/me/next')).json()).toMatchObject({ id: low.id });
    expect((await ticketOf(urgent.id)).assigneeId).toBeNull();
  });

  it('order priority ignores the due time', async () => {
    const team = await createTeam(ctx, { routing: { enabled: false, order: 'priority' } });
    const agent = await createAgent(ctx, { teamId: team.id, languages: ['en'], capacity: { email: 1 } });
    const token = await tokenFor(ctx, 'agent', agent.id);
    const urgent = await createTicket(ctx, { teamId: team.id, language: 'en', priority: 'urgent' });
    await createTicket(ctx, { teamId: team.id, language: 'en', priority: 'low' });
    await setPresence(agent.id, 'online');
    expect((await client(ctx, token).post('/v1/me/next')).json()).toMatchObject({ id: urgent.id });
  });

  it('a ticket waiting for its language falls back at its first SLA warning, before languageFallbackSec', async () => {
    const team = await createTeam(ctx, { routing: { languageFallbackSec: 3600 } });
    const english = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    await setPresence(english.id, 'online');
    const ticket = await createTicket(ctx, { teamId: team.id, language: 'he', priority: 'low' }); // warning at 300 s
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(0);
    manualClock(ctx).advance(301_000);
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(1);
    expect((await ticketOf(ticket.id)).assigneeId).toBe(english.id);
    await setPresence(english.id, 'away');
  });
});
