import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createAgent, createTeam, createTicket, expectProblem, manualClock, patchTicket, tokenFor, type TicketJson } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { openSse } from '../../helpers/sla.js';

// No workers here: routing runs only when the test calls it, so each step is deterministic.
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const setPresence = (agentId: string, status: string) =>
  ctx.app.inject({ method: 'PUT', url: `/v1/agents/${agentId}/presence`, headers: bearer(ctx.adminToken), payload: { status } });
const ticketOf = async (id: string) => (await client(ctx).get(`/v1/tickets/${id}`)).json<TicketJson>();
async function lastAssigned(id: string) {
  const items = (await client(ctx).get(`/v1/tickets/${id}/events?limit=200`)).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
  return items.filter((e) => e.type === 'assigned').at(-1)?.data;
}

describe('pull: POST /v1/me/next', () => {
  it('takes the best ticket of a pull team (routing off) for the calling agent, then 204 when none is left', async () => {
    const team = await createTeam(ctx, { routing: { enabled: false } });
    const agent = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const token = await tokenFor(ctx, 'agent', agent.id);
    const low = await createTicket(ctx, { teamId: team.id, language: 'en', priority: 'low' });
    const urgent = await createTicket(ctx, { teamId: team.id, language: 'en', priority: 'urgent' });
    expectProblem(await client(ctx, token).post('/v1/me/next'), 409, { code: 'agent-not-online' });
    await setPresence(agent.id, 'online');
    // Routing is off for the team: nothing is pushed.
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(0);

    const first = await client(ctx, token).post('/v1/me/next');
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ id: urgent.id, assigneeId: agent.id });
    expect(await lastAssigned(urgent.id)).toMatchObject({ by: 'pull', to: agent.id });
    expect((await client(ctx, token).post('/v1/me/next')).json()).toMatchObject({ id: low.id });
    expect((await client(ctx, token).post('/v1/me/next')).statusCode).toBe(204);
    expectProblem(await client(ctx).post('/v1/me/next'), 403, { code: 'no-agent' });
  });

  it('never pulls past capacity', async () => {
    const team = await createTeam(ctx, { routing: { enabled: false }, capacity: { phone: 1 } });
    const agent = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const token = await tokenFor(ctx, 'agent', agent.id);
    await setPresence(agent.id, 'online');
    await createTicket(ctx, { teamId: team.id, language: 'en', channel: 'phone', customer: { phone: '+14155550201' } });
    await createTicket(ctx, { teamId: team.id, language: 'en', channel: 'phone', customer: { phone: '+14155550202' } });
    expect((await client(ctx, token).post('/v1/me/next')).statusCode).toBe(200);
    expect((await client(ctx, token).post('/v1/me/next')).statusCode).toBe(204);
  });
});

describe('unavailable agents', () => {
  it("going offline sends the agent's unanswered tickets back to the queue; answered ones stay; the next agent's assignment is a handoff", async () => {
    const team = await createTeam(ctx);
    const leaving = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const staying = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    await setPresence(leaving.id, 'online');
    const unanswered = await createTicket(ctx, { teamId: team.id, language: 'en', assigneeId: leaving.id });
    const answered = await createTicket(ctx, { teamId: team.id, language: 'en', assigneeId: leaving.id });
    const reply = await client(ctx).post(`/v1/tickets/${answered.id}/messages`, { body: 'On it', public: true, authorAgentId: leaving.id });
    expect(reply.statusCode, reply.body).toBe(201);

    await setPresence(leaving.id, 'offline');
    expect((await ticketOf(unanswered.id)).assigneeId).toBeNull();
    expect(await lastAssigned(unanswered.id)).toMatchObject({ from: leaving.id, to: null, reason: 'agent_unavailable' });
    expect((await ticketOf(answered.id)).assigneeId).toBe(leaving.id);

    await setPresence(staying.id, 'online');
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(1);
    const moved = await ticketOf(unanswered.id);
    expect(moved).toMatchObject({ assigneeId: staying.id, handoffCount: 1 });
    await setPresence(staying.id, 'away');
  });

  it('an agent away longer than REASSIGN_AFTER_SEC gives back unanswered tickets at the next sweep', async () => {
    const team = await createTeam(ctx, { routing: { enabled: false } });
    const agent = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const ticket = await createTicket(ctx, { teamId: team.id, language: 'en', assigneeId: agent.id });
    await setPresence(agent.id, 'online');
    await setPresence(agent.id, 'away');
    manualClock(ctx).advance(599_000);
    await ctx.deps.routing.sweep();
    expect((await ticketOf(ticket.id)).assigneeId).toBe(agent.id);
    manualClock(ctx).advance(2_000);
    await ctx.deps.routing.sweep();
    expect((await ticketOf(ticket.id)).assigneeId).toBeNull();
  });

  it('a manual assignment to an agent who never set a presence is left alone by the sweep', async () => {
    const agent = await createAgent(ctx);
    const ticket = await createTicket(ctx, { assigneeId: agent.id });
    manualClock(ctx).advance(3_600_000);
    await ctx.deps.routing.sweep();
    expect((await ticketOf(ticket.id)).assigneeId).toBe(agent.id);
  });
});

describe('waiting time', () => {
  it('the language fallback counts from when the ticket went back to the queue, not from when it was opened', async () => {
    const team = await createTeam(ctx);
    const english = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    await setPresence(english.id, 'online');
    const ticket = await createTicket(ctx, { teamId: team.id, language: 'he', assigneeId: english.id });
    manualClock(ctx).advance(400_000);
    await setPresence(english.id, 'offline'); // gives the unanswered ticket back
    await setPresence(english.id, 'online');
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(0);
    manualClock(ctx).advance(301_000);
    expect(await ctx.deps.routing.routeTeam(team.id)).toBe(1);
    expect(await lastAssigned(ticket.id)).toMatchObject({ to: english.id, reason: 'language_fallback', languageMatched: false });
    await setPresence(english.id, 'away');
  });
});

describe('GET /v1/routing/queues', () => {
  it('shows waiting tickets per team, channel and language, and agents with presence and load', async () => {
    const team = await createTeam(ctx, { routing: { enabled: false } });
    const agent = await createAgent(ctx, { teamId: team.id, languages: ['he'] });
    await createTicket(ctx, { teamId: team.id, language: 'he' });
    manualClock(ctx).advance(60_000);
    await createTicket(ctx, { teamId: team.id, language: 'he' });
    const res = await client(ctx).get('/v1/routing/queues');
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ queues: Record<string, unknown>[]; agents: Record<string, unknown>[] }>();
    expect(body.queues).toContainEqual(expect.objectContaining({ teamId: team.id, channel: 'email', language: 'he', waiting: 2, longestWaitSec: 60 }));
    expect(body.agents).toContainEqual(expect.objectContaining({ id: agent.id, presence: 'offline', load: { email: 0, phone: 0, facebook: 0, twitter: 0 } }));
    // Prometheus: this process runs no workers (no sweep), yet its /metrics reads the same figures from Postgres.
    const scraped = await client(ctx).get('/metrics');
    expect(scraped.statusCode).toBe(200);
    expect(scraped.body).toContain(`complaint_desk_routing_waiting_tickets{team="${team.id}",channel="email",language="he"} 2`);
    expect(scraped.body).toMatch(new RegExp(`complaint_desk_routing_longest_wait_seconds\\{team="${team.id}",channel="email",language="he"\\} 60`));
    // Read again at every scrape: a third waiting ticket shows at once.
    await createTicket(ctx, { teamId: team.id, language: 'he' });
    const gauge = await ctx.deps.metrics.registry.getSingleMetricAsString('complaint_desk_routing_waiting_tickets');
    expect(gauge).toContain(`complaint_desk_routing_waiting_tickets{team="${team.id}",channel="email",language="he"} 3`);
  });
});

describe('GET /v1/me/stream', () => {
  it("streams the calling agent's routed assignments and releases, and resumes after Last-Event-ID", async () => {
    const team = await createTeam(ctx);
    const agent = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const other = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const token = await tokenFor(ctx, 'agent', agent.id);
    const address = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const stream = await openSse(`${address}/v1/me/stream`, token);
    try {
      expect(stream.response.status).toBe(200);
      await setPresence(agent.id, 'online');
      const ticket = await createTicket(ctx, { teamId: team.id, language: 'en' });
      expect(await ctx.deps.routing.routeTeam(team.id)).toBe(1);
      const assigned = await stream.waitFor((e) => e.event === 'assigned');
      expect(assigned.data).toMatchObject({ agentId: agent.id, ticketId: ticket.id, by: 'routing', reason: 'least_loaded' });
      await setPresence(agent.id, 'offline');
      const unassigned = await stream.waitFor((e) => e.event === 'unassigned');
      expect(unassigned.data).toMatchObject({ ticketId: ticket.id, reason: 'agent_unavailable' });
      // Another agent's assignment is not on this stream.
      await setPresence(other.id, 'online');
      expect(await ctx.deps.routing.routeTeam(team.id)).toBe(1);
      await setPresence(other.id, 'away');

      const resumed = await openSse(`${address}/v1/me/stream`, token, assigned.id!);
      try {
        const again = await resumed.waitFor((e) => e.event === 'unassigned');
        expect(again.id).toBe(unassigned.id);
        expect(resumed.received.filter((e) => e.event === 'assigned')).toEqual([]);
      } finally {
        await resumed.close();
      }
      expect(stream.received.map((e) => e.event)).toEqual(['assigned', 'unassigned']);
    } finally {
      await stream.close();
    }
    const noAgent = await client(ctx).get('/v1/me/stream');
    expectProblem(noAgent, 404, { code: 'no-agent' });
  });

  it('a manual assignment is on the stream too: assigned for the new agent, unassigned for the old one', async () => {
    const team = await createTeam(ctx, { routing: { enabled: false } });
    const agent = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const other = await createAgent(ctx, { teamId: team.id, languages: ['en'] });
    const token = await tokenFor(ctx, 'agent', agent.id);
    // The test before may have started listening already.
    const address = ctx.app.server.listening ? `http://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}` : await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const stream = await openSse(`${address}/v1/me/stream`, token);
    try {
      const ticket = await createTicket(ctx, { teamId: team.id, language: 'en' });
      expect((await patchTicket(ctx, ticket, { assigneeId: agent.id })).statusCode).toBe(200);
      const assigned = await stream.waitFor((e) => e.event === 'assigned');
      expect(assigned.data).toMatchObject({ agentId: agent.id, ticketId: ticket.id, by: 'manual' });
      expect((await patchTicket(ctx, ticket, { assigneeId: other.id })).statusCode).toBe(200);
      const unassigned = await stream.waitFor((e) => e.event === 'unassigned');
      expect(unassigned.data).toMatchObject({ agentId: agent.id, ticketId: ticket.id, by: 'manual' });
      // Created with an assignee: on that agent's stream at once.
      const direct = await createTicket(ctx, { teamId: team.id, language: 'en', assigneeId: agent.id });
      const second = await stream.waitFor((e) => e.event === 'assigned' && (e.data as { ticketId?: string }).ticketId === direct.id);
      expect(second.data).toMatchObject({ agentId: agent.id, by: 'manual' });
      expect(stream.received.map((e) => e.event)).toEqual(['assigned', 'unassigned', 'assigned']);
    } finally {
      await stream.close();
    }
  });
});
