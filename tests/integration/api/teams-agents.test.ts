import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createAgent, createTeam, createTicket, expectProblem, manualClock, MINUTE, tokenFor, unique, type AgentJson, type TeamJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const UNKNOWN = '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a';

async function walk<T extends { id: string }>(path: string, limit: number, token?: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const res = await client(ctx, token).get(`${path}${path.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.statusCode, res.body).toBe(200);
    const page = res.json<{ items: T[]; nextCursor: string | null }>();
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

describe('teams', () => {
  it('creates, reads, renames and deletes a team', async () => {
    const now = manualClock(ctx).now().toISOString();
    const res = await client(ctx).post('/v1/teams', { name: '  Billing  ' });
    expect(res.statusCode, res.body).toBe(201);
    const team = res.json<TeamJson & { createdAt: string; updatedAt: string }>();
    expect(team).toEqual({
      id: expect.any(String),
      name: 'Billing',
      leadAgentId: null,
      // Routing (issue 13): the defaults until set.
      capacity: { email: 10, phone: 1, facebook: 5, twitter: 5 },
      routing: { enabled: true, order: 'sla', method: 'least_loaded', languageFallbackSec: 300, stickyDays: 30, shiftCalendarId: null },
      // Issue 16: off until set.
      requireReasonOnSolve: false,
      createdAt: now,
      updatedAt: now,
    });
    expect((await client(ctx).get(`/v1/teams/${team.id}`)).json()).toEqual(team);

    manualClock(ctx).advance(MINUTE);
    const renamed = await client(ctx).patch(`/v1/teams/${team.id}`, { name: 'Billing & refunds' });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ name: 'Billing & refunds', updatedAt: manualClock(ctx).now().toISOString(), createdAt: now });

    const deleted = await client(ctx).delete(`/v1/teams/${team.id}`);
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    expectProblem(await client(ctx).get(`/v1/teams/${team.id}`), 404, { code: 'not-found' });
  });

  it('refuses a duplicate name with 409, on create and on rename', async () => {
    const name = unique('Team');
    await createTeam(ctx, { name });
    expectProblem(await client(ctx).post('/v1/teams', { name }), 409, { code: 'duplicate' });
    const other = await createTeam(ctx);
    expectProblem(await client(ctx).patch(`/v1/teams/${other.id}`, { name }), 409, { code: 'duplicate' });
  });

  it('answers 404 for an unknown team on read, change and delete', async () => {
    expectProblem(await client(ctx).get(`/v1/teams/${UNKNOWN}`), 404);
    expectProblem(await client(ctx).patch(`/v1/teams/${UNKNOWN}`, { name: 'x' }), 404);
    expectProblem(await client(ctx).delete(`/v1/teams/${UNKNOWN}`), 404);
  });

  it('takes a lead agent, refusing an unknown or deactivated one (400 naming body.leadAgentId)', async () => {
    const lead = await createAgent(ctx);
    const team = await createTeam(ctx, { leadAgentId: lead.id });
    expect(team.leadAgentId).toBe(lead.id);
    expectProblem(await client(ctx).post('/v1/teams', { name: unique('t'), leadAgentId: UNKNOWN }), 400, { field: 'body.leadAgentId' });
    await client(ctx).delete(`/v1/agents/${lead.id}`);
    expectProblem(await client(ctx).patch(`/v1/teams/${team.id}`, { leadAgentId: lead.id }), 400, { field: 'body.leadAgentId' });
    expect((await client(ctx).patch(`/v1/teams/${team.id}`, { leadAgentId: null })).json()).toMatchObject({ leadAgentId: null });
  });

  it('lists teams in pages, each once', async () => {
    const made = await Promise.all([1, 2, 3, 4, 5].map(() => createTeam(ctx)));
    const all = await walk<TeamJson>('/v1/teams', 2);
    expect(new Set(all.map((t) => t.id)).size).toBe(all.length);
    for (const team of made) expect(all.map((t) => t.id)).toContain(team.id);
  });

  it('deleting a team unassigns its agents and tickets, which keep working', async () => {
    const team = await createTeam(ctx);
    const agent = await createAgent(ctx, { teamId: team.id });
    const ticket = await createTicket(ctx, { teamId: team.id, assigneeId: agent.id });
    expect((await client(ctx).delete(`/v1/teams/${team.id}`)).statusCode).toBe(204);
    expect((await client(ctx).get(`/v1/agents/${agent.id}`)).json()).toMatchObject({ teamId: null, active: true });
    expect((await client(ctx).get(`/v1/tickets/${ticket.id}`)).json()).toMatchObject({ teamId: null, assigneeId: agent.id });
  });

  it('only supervisors and admins manage teams; agents read them; integrations neither', async () => {
    const [agentKey, supervisorKey, integrationKey] = [await tokenFor(ctx, 'agent'), await tokenFor(ctx, 'supervisor'), await tokenFor(ctx, 'integration')];
    const team = await createTeam(ctx);
    expectProblem(await client(ctx, agentKey).post('/v1/teams', { name: unique('t') }), 403, { code: 'forbidden' });
    expectProblem(await client(ctx, agentKey).patch(`/v1/teams/${team.id}`, { name: unique('t') }), 403);
    expectProblem(await client(ctx, agentKey).delete(`/v1/teams/${team.id}`), 403);
    expect((await client(ctx, agentKey).get('/v1/teams')).statusCode).toBe(200);
    expect((await client(ctx, agentKey).get(`/v1/teams/${team.id}`)).statusCode).toBe(200);
    expect((await client(ctx, supervisorKey).post('/v1/teams', { name: unique('t') })).statusCode).toBe(201);
    expectProblem(await client(ctx, integrationKey).get('/v1/teams'), 403);
    expectProblem(await client(ctx, integrationKey).post('/v1/teams', { name: unique('t') }), 403);
    // A refused request changes nothing.
    expect((await client(ctx).get(`/v1/teams/${team.id}`)).json()).toMatchObject({ name: team.name });
  });
});

describe('agents', () => {
  it('creates and reads an agent, with languages and team', async () => {
    const team = await createTeam(ctx);
    const email = `${unique('yael')}@desk.example`;
    const res = await client(ctx).post('/v1/agents', { name: 'Yael', email, teamId: team.id, languages: ['he', 'en'] });
    expect(res.statusCode, res.body).toBe(201);
    const agent = res.json<AgentJson>();
    expect(agent).toMatchObject({ name: 'Yael', email, teamId: team.id, languages: ['he', 'en'], active: true });
    expect((await client(ctx).get(`/v1/agents/${agent.id}`)).json()).toEqual(agent);
    expect((await createAgent(ctx)).languages).toEqual([]);
  });

  it('refuses a duplicate e-mail (in any case) with 409, on create and on change', async () => {
    const email = `${unique('dup')}@desk.example`;
    await createAgent(ctx, { email });
    expectProblem(await client(ctx).post('/v1/agents', { name: 'Twin', email: email.toUpperCase() }), 409, { code: 'duplicate' });
    const other = await createAgent(ctx);
    expectProblem(await client(ctx).patch(`/v1/agents/${other.id}`, { email }), 409, { code: 'duplicate' });
  });

  it('refuses an unknown team (400 naming body.teamId) and bad languages (naming the item)', async () => {
    expectProblem(await client(ctx).post('/v1/agents', { name: 'A', email: `${unique('a')}@d.example`, teamId: UNKNOWN }), 400, { field: 'body.teamId' });
    expectProblem(await client(ctx).post('/v1/agents', { name: 'A', email: `${unique('a')}@d.example`, languages: ['he', 'Polish'] }), 400, { field: 'body.languages.1' });
    const agent = await createAgent(ctx);
    expectProblem(await client(ctx).patch(`/v1/agents/${agent.id}`, { teamId: UNKNOWN }), 400, { field: 'body.teamId' });
  });

  it('changes an agent and answers 404 for an unknown one', async () => {
    const agent = await createAgent(ctx);
    const res = await client(ctx).patch(`/v1/agents/${agent.id}`, { name: 'Renamed', languages: ['pl'] });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ name: 'Renamed', languages: ['pl'], email: agent.email });
    expectProblem(await client(ctx).get(`/v1/agents/${UNKNOWN}`), 404);
    expectProblem(await client(ctx).patch(`/v1/agents/${UNKNOWN}`, { name: 'x' }), 404);
    expectProblem(await client(ctx).delete(`/v1/agents/${UNKNOWN}`), 404);
  });

  it('DELETE deactivates (the agent stays, tickets keep naming them) and PATCH can reactivate', async () => {
    const agent = await createAgent(ctx);
    const ticket = await createTicket(ctx, { assigneeId: agent.id });
    const res = await client(ctx).delete(`/v1/agents/${agent.id}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id: agent.id, active: false });
    expect((await client(ctx).delete(`/v1/agents/${agent.id}`)).json()).toMatchObject({ active: false });
    expect((await client(ctx).get(`/v1/agents/${agent.id}`)).json()).toMatchObject({ active: false });
    expect((await client(ctx).get(`/v1/tickets/${ticket.id}`)).json()).toMatchObject({ assigneeId: agent.id });
    expectProblem(await client(ctx).post('/v1/tickets', { channel: 'email', customer: { name: 'x' }, subject: 's', body: 'b', assigneeId: agent.id }), 400, { field: 'body.assigneeId' });
    expect((await client(ctx).patch(`/v1/agents/${agent.id}`, { active: true })).json()).toMatchObject({ active: true });
  });

  it('lists agents in pages, filtered by team and by active', async () => {
    const team = await createTeam(ctx);
    const members = [await createAgent(ctx, { teamId: team.id }), await createAgent(ctx, { teamId: team.id }), await createAgent(ctx, { teamId: team.id })];
    await client(ctx).delete(`/v1/agents/${members[2]!.id}`);
    const ids = (items: AgentJson[]) => items.map((a) => a.id).sort();
    expect(ids(await walk<AgentJson>(`/v1/agents?teamId=${team.id}`, 1))).toEqual(ids(members));
    expect(ids(await walk<AgentJson>(`/v1/agents?teamId=${team.id}&active=true`, 1))).toEqual(ids(members.slice(0, 2)));
    expect(ids(await walk<AgentJson>(`/v1/agents?teamId=${team.id}&active=false`, 5))).toEqual([members[2]!.id]);
    const all = await walk<AgentJson>('/v1/agents', 3);
    expect(new Set(all.map((a) => a.id)).size).toBe(all.length);
    expectProblem(await client(ctx).get('/v1/agents?active=maybe'), 400, { field: 'query.active' });
    expectProblem(await client(ctx).get('/v1/agents?teamId=abc'), 400, { field: 'query.teamId' });
    expectProblem(await client(ctx).get('/v1/agents?cursor=abc'), 400, { field: 'query.cursor' });
  });

  it('only supervisors and admins manage agents; agents read them', async () => {
    const agentKey = await tokenFor(ctx, 'agent');
    const agent = await createAgent(ctx);
    expectProblem(await client(ctx, agentKey).post('/v1/agents', { name: 'A', email: `${unique('a')}@d.example` }), 403, { code: 'forbidden' });
    expectProblem(await client(ctx, agentKey).patch(`/v1/agents/${agent.id}`, { name: 'B' }), 403);
    expectProblem(await client(ctx, agentKey).delete(`/v1/agents/${agent.id}`), 403);
    expect((await client(ctx, agentKey).get(`/v1/agents/${agent.id}`)).statusCode).toBe(200);
    expect((await client(ctx, await tokenFor(ctx, 'supervisor')).post('/v1/agents', { name: 'S', email: `${unique('s')}@d.example` })).statusCode).toBe(201);
  });
});
