import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentPresenceEvents } from '../../../src/modules/routing/routing.table.js';
import { client, createAgent, createTeam, expectProblem, manualClock, MINUTE, tokenFor } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const put = (token: string, url: string, payload: unknown) => ctx.app.inject({ method: 'PUT', url, headers: bearer(token), payload: payload as object });

describe('presence and /v1/me', () => {
  it("GET /v1/me answers the key's agent, and a 404 problem for a key without one", async () => {
    const agent = await createAgent(ctx, { languages: ['he', 'en'] });
    const token = await tokenFor(ctx, 'agent', agent.id);
    const me = await client(ctx, token).get('/v1/me');
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toMatchObject({ id: agent.id, presence: 'offline', capacity: { email: 10, phone: 1, facebook: 5, twitter: 5 }, load: { email: 0, phone: 0 } });
    expectProblem(await client(ctx).get('/v1/me'), 404, { code: 'no-agent' });
  });

  it('PUT /v1/me/presence changes presence and appends to the presence timeline', async () => {
    const agent = await createAgent(ctx);
    const token = await tokenFor(ctx, 'agent', agent.id);
    const res = await put(token, '/v1/me/presence', { status: 'online' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ presence: 'online' });
    await put(token, '/v1/me/presence', { status: 'online' }); // no change, no row
    await put(token, '/v1/me/presence', { status: 'away' });
    const rows = await ctx.deps.db.select().from(agentPresenceEvents).where(eq(agentPresenceEvents.agentId, agent.id));
    expect(rows.map((r) => [r.status, r.reason])).toEqual([
      ['online', 'manual'],
      ['away', 'manual'],
    ]);
    expectProblem(await put(token, '/v1/me/presence', { status: 'busy' }), 400, { field: 'body.status' });
    expectProblem(await put(ctx.adminToken, '/v1/me/presence', { status: 'online' }), 404);
  });

  it("an agent's key sets only its own presence; a supervisor sets anyone's", async () => {
    const [a, b] = [await createAgent(ctx), await createAgent(ctx)];
    const aToken = await tokenFor(ctx, 'agent', a.id);
    expectProblem(await put(aToken, `/v1/agents/${b.id}/presence`, { status: 'online' }), 403, { field: 'params.id' });
    expect((await put(aToken, `/v1/agents/${a.id}/presence`, { status: 'online' })).statusCode).toBe(200);
    const supervisor = await tokenFor(ctx, 'supervisor');
    const res = await put(supervisor, `/v1/agents/${b.id}/presence`, { status: 'online' });
    expect(res.statusCode, res.body).toBe(200);
    expectProblem(await put(supervisor, `/v1/agents/${randomUUID()}/presence`, { status: 'online' }), 404);
  });

  it('GET /v1/agents filters by presence and shows load and capacity', async () => {
    const team = await createTeam(ctx, { capacity: { email: 3 } });
    const agent = await createAgent(ctx, { teamId: team.id, capacity: { phone: 2 } });
    await put(ctx.adminToken, `/v1/agents/${agent.id}/presence`, { status: 'away' });
    const res = await client(ctx).get(`/v1/agents?presence=away&teamId=${team.id}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().items).toEqual([expect.objectContaining({ id: agent.id, presence: 'away', capacity: { email: 3, phone: 2, facebook: 5, twitter: 5 }, capacityOverride: { phone: 2 } })]);
    expect((await client(ctx).get(`/v1/agents?presence=online&teamId=${team.id}`)).json().items).toEqual([]);
    expectProblem(await client(ctx).get('/v1/agents?presence=busy'), 400, { field: 'query.presence' });
  });

  it('a request with an agent key is activity; an online agent idle past AGENT_IDLE_AWAY_SEC becomes away', async () => {
    const agent = await createAgent(ctx);
    const token = await tokenFor(ctx, 'agent', agent.id);
    await put(token, '/v1/me/presence', { status: 'online' });
    manualClock(ctx).advance(10 * MINUTE);
    await client(ctx, token).get('/v1/tickets'); // activity, recorded (more than 30 s since the last)
    await expect.poll(async () => (await client(ctx).get(`/v1/agents/${agent.id}`)).json().lastActivityAt).toBe(manualClock(ctx).now().toISOString());
    manualClock(ctx).advance(10 * MINUTE);
    await ctx.deps.routing.sweep();
    expect((await client(ctx).get(`/v1/agents/${agent.id}`)).json().presence).toBe('online');
    manualClock(ctx).advance(6 * MINUTE);
    await ctx.deps.routing.sweep();
    expect((await client(ctx).get(`/v1/agents/${agent.id}`)).json().presence).toBe('away');
    const rows = await ctx.deps.db.select().from(agentPresenceEvents).where(eq(agentPresenceEvents.agentId, agent.id));
    expect(rows.at(-1)).toMatchObject({ status: 'away', reason: 'idle' });
  });
});

describe('capacity, skills and routing settings', () => {
  it('refuses bad capacity, languages and teams, naming the field', async () => {
    const agent = await createAgent(ctx);
    const patch = (body: unknown) => client(ctx).patch(`/v1/agents/${agent.id}`, body);
    expectProblem(await patch({ capacity: { phone: -1 } }), 400, { field: 'body.capacity.phone' });
    expectProblem(await patch({ capacity: { email: 1.5 } }), 400, { field: 'body.capacity.email' });
    expectProblem(await patch({ capacity: { fax: 1 } }), 400);
    expectProblem(await patch({ languages: ['en', 'xx'] }), 400, { field: 'body.languages.1' });
    expectProblem(await patch({ teamIds: [randomUUID()] }), 400, { field: 'body.teamIds.0' });
    const team = await createTeam(ctx);
    expectProblem(await client(ctx).patch(`/v1/teams/${team.id}`, { routing: { order: 'random' } }), 400, { field: 'body.routing.order' });
    expectProblem(await client(ctx).patch(`/v1/teams/${team.id}`, { capacity: { twitter: -2 } }), 400, { field: 'body.capacity.twitter' });
  });

  it('PATCH /v1/agents and /v1/teams set capacity, languages, extra teams and routing (keys left out stay)', async () => {
    const [team, extra] = [await createTeam(ctx), await createTeam(ctx)];
    const agent = await createAgent(ctx, { teamId: team.id });
    const res = await client(ctx).patch(`/v1/agents/${agent.id}`, { capacity: { email: 4 }, languages: ['he'], teamIds: [extra.id] });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ capacity: { email: 4, phone: 1 }, languages: ['he'], teamIds: [extra.id] });
    await client(ctx).patch(`/v1/teams/${team.id}`, { routing: { order: 'fifo' }, capacity: { phone: 3 } });
    const t = await client(ctx).patch(`/v1/teams/${team.id}`, { routing: { languageFallbackSec: 60 } });
    expect(t.json()).toMatchObject({ capacity: { phone: 3, email: 10 }, routing: { enabled: true, order: 'fifo', method: 'least_loaded', languageFallbackSec: 60, stickyDays: 30 } });
    expect((await client(ctx).get(`/v1/agents/${agent.id}`)).json().capacity).toEqual({ email: 4, phone: 3, facebook: 5, twitter: 5 });
  });

  it('GET/PUT /v1/routing/settings for the default queue', async () => {
    expect((await client(ctx).get('/v1/routing/settings')).json()).toEqual({
      routing: { enabled: true, order: 'sla', method: 'least_loaded', languageFallbackSec: 300, stickyDays: 30, shiftCalendarId: null },
      capacity: { email: 10, phone: 1, facebook: 5, twitter: 5 },
    });
    expectProblem(await put(ctx.adminToken, '/v1/routing/settings', { routing: { shiftCalendarId: randomUUID() } }), 400, { field: 'body.routing.shiftCalendarId' });
    const res = await put(ctx.adminToken, '/v1/routing/settings', { routing: { method: 'round_robin' }, capacity: { email: 6 } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ routing: { method: 'round_robin', order: 'sla' }, capacity: { email: 6, phone: 1 } });
    expectProblem(await put(ctx.adminToken, '/v1/routing/settings', { routing: { stickyDays: -1 } }), 400, { field: 'body.routing.stickyDays' });
    expectProblem(await put(await tokenFor(ctx, 'agent'), '/v1/routing/settings', { routing: {} }), 403);
    await put(ctx.adminToken, '/v1/routing/settings', { routing: { method: 'least_loaded' }, capacity: null });
  });
});

describe('shifts', () => {
  it("an agent whose team has a shift calendar goes offline (reason shift) when the calendar closes; one who came online after hours stays", async () => {
    const calendar = await client(ctx).post('/v1/calendars', {
      name: `shift-${randomUUID()}`,
      definition: { timeZone: 'UTC', weeklyHours: Object.fromEntries(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => [d, [{ start: '09:00', end: '17:00' }]])), holidays: [] },
    });
    expect(calendar.statusCode, calendar.body).toBe(201);
    const calendarId = calendar.json<{ id: string }>().id;
    expectProblem(await client(ctx).post('/v1/teams', { name: `t-${randomUUID()}`, routing: { shiftCalendarId: randomUUID() } }), 400, { field: 'body.routing.shiftCalendarId' });
    const team = await createTeam(ctx, { routing: { shiftCalendarId: calendarId } });
    expect(team).toMatchObject({ routing: { shiftCalendarId: calendarId } });
    const other = await createTeam(ctx);
    const agent = await createAgent(ctx, { teamId: team.id });
    const elsewhere = await createAgent(ctx, { teamId: other.id });
    // Tomorrow 16:00 UTC: an hour before the calendar closes (the clock only moves forward).
    const clock = manualClock(ctx);
    const day = new Date(clock.now().getTime() + 86_400_000).toISOString().slice(0, 10);
    clock.set(`${day}T16:00:00Z`);
    const presence = async (id: string) => (await client(ctx).get(`/v1/agents/${id}`)).json<{ presence: string }>().presence;
    const setPresence = (id: string, status: string) => ctx.app.inject({ method: 'PUT', url: `/v1/agents/${id}/presence`, headers: bearer(ctx.adminToken), payload: { status } });
    await setPresence(agent.id, 'online');
    await setPresence(elsewhere.id, 'online');
    expect((await ctx.deps.routing.sweep()).shiftsEnded).toBe(0);
    clock.set(`${day}T17:00:30Z`);
    expect((await ctx.deps.routing.sweep()).shiftsEnded).toBe(1);
    expect(await presence(agent.id)).toBe('offline');
    // No calendar on the other team: its agent's shift never ends (it may have gone idle-away meanwhile).
    expect(await presence(elsewhere.id)).not.toBe('offline');
    const rows = await ctx.deps.db.select().from(agentPresenceEvents).where(eq(agentPresenceEvents.agentId, agent.id));
    expect(rows.at(-1)).toMatchObject({ status: 'offline', reason: 'shift' });
    // Back online after hours: stays until the next working period ends.
    clock.set(`${day}T17:30:00Z`);
    await setPresence(agent.id, 'online');
    clock.set(`${day}T17:40:00Z`);
    expect((await ctx.deps.routing.sweep()).shiftsEnded).toBe(0);
    expect(await presence(agent.id)).toBe('online');
    await setPresence(agent.id, 'offline');
    await setPresence(elsewhere.id, 'offline');
  });
});

describe('deleting a team', () => {
  it("removes it from agents' teamIds in the same transaction; its members and tickets lose it", async () => {
    const [team, kept] = [await createTeam(ctx), await createTeam(ctx)];
    const member = await createAgent(ctx, { teamId: team.id });
    const helper = await createAgent(ctx, { teamIds: [team.id, kept.id] });
    expect((await client(ctx).delete(`/v1/teams/${team.id}`)).statusCode).toBe(204);
    expect((await client(ctx).get(`/v1/agents/${helper.id}`)).json()).toMatchObject({ teamIds: [kept.id] });
    expect((await client(ctx).get(`/v1/agents/${member.id}`)).json()).toMatchObject({ teamId: null });
    expectProblem(await client(ctx).delete(`/v1/teams/${team.id}`), 404);
  });
});
