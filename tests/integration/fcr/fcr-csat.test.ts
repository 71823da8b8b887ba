import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csatSurveys } from '../../../src/modules/csat/csat.table.js';
import { outbox } from '../../../src/modules/delivery/delivery.table.js';
import type { ManualClock } from '../../../src/shared/clock.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
let clock: ManualClock;
let agentA: { id: string; token: string };
let agentB: { id: string; token: string };
const HOUR = 3_600_000;

async function makeAgent(name: string) {
  const agent = (await ctx.app.inject({ method: 'POST', url: '/v1/agents', headers: bearer(ctx.adminToken), payload: { name, email: `${name}@desk.example` } })).json();
  const key = (await ctx.app.inject({ method: 'POST', url: '/v1/api-keys', headers: bearer(ctx.adminToken), payload: { name, role: 'agent', agentId: agent.id } })).json();
  return { id: agent.id as string, token: key.token as string };
}

beforeAll(async () => {
  ctx = await createTestContext({ env: { FCR_REOPEN_WINDOW_HOURS: '168', PUBLIC_BASE_URL: 'https://desk.example.com' } });
  clock = ctx.clock as ManualClock;
  agentA = await makeAgent('anna');
  agentB = await makeAgent('boris');
});
afterAll(async () => ctx?.close());

async function newTicket(assigneeId?: string) {
  const res = await ctx.app.inject({
    method: 'POST',
    url: '/v1/tickets',
    headers: bearer(ctx.adminToken),
    payload: { channel: 'email', customer: { email: `c${Math.random().toString(36).slice(2)}@example.com` }, subject: 'Late delivery', body: 'Where is my parcel?', ...(assigneeId ? { assigneeId } : {}) },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; version: number };
}
const reply = (token: string, id: string, extra: Record<string, unknown> = {}) =>
  ctx.app.inject({ method: 'POST', url: `/v1/tickets/${id}/messages`, headers: bearer(token), payload: { body: 'Here is what happened…', public: true, ...extra } });
async function patch(id: string, body: Record<string, unknown>) {
  const current = (await ctx.app.inject({ method: 'GET', url: `/v1/tickets/${id}`, headers: bearer(ctx.adminToken) })).json();
  const res = await ctx.app.inject({ method: 'PATCH', url: `/v1/tickets/${id}`, headers: { ...bearer(ctx.adminToken), 'if-match': `"${current.version}"` }, payload: body });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}
const fcrOf = async (id: string) => (await ctx.app.inject({ method: 'GET', url: `/v1/tickets/${id}`, headers: bearer(ctx.adminToken) })).json().fcrState as string;
const afterWindow = async () => {
  clock.advance(168 * HOUR + 1);
  await ctx.deps.fcr.settle();
};

describe('first-contact resolution, path by path', () => {
  it('one reply, solved, not reopened within the window: pending, then yes', async () => {
    const t = await newTicket(agentA.id);
    expect((await reply(agentA.token, t.id, { status: 'solved' })).statusCode).toBe(201);
    expect(await fcrOf(t.id)).toBe('pending');
    clock.advance(100 * HOUR);
    await ctx.deps.fcr.settle();
    expect(await fcrOf(t.id)).toBe('pending');
    await afterWindow();
    expect(await fcrOf(t.id)).toBe('yes');
  });

  it('two replies: no at the solve', async () => {
    const t = await newTicket(agentA.id);
    await reply(agentA.token, t.id);
    await reply(agentA.token, t.id, { status: 'solved' });
    expect(await fcrOf(t.id)).toBe('no');
  });

  it('a handoff: no', async () => {
    const t = await newTicket(agentA.id);
    await patch(t.id, { assigneeId: agentB.id });
    await reply(agentB.token, t.id, { status: 'solved' });
    expect(await fcrOf(t.id)).toBe('no');
  });

  it('a reopen inside the window: no at once', async () => {
    const t = await newTicket(agentA.id);
    await reply(agentA.token, t.id, { status: 'solved' });
    clock.advance(24 * HOUR);
    await patch(t.id, { status: 'open' });
    expect(await fcrOf(t.id)).toBe('no');
  });

  it('a reopen after the window: stays yes', async () => {
    const t = await newTicket(agentA.id);
    await reply(agentA.token, t.id, { status: 'solved' });
    await afterWindow();
    expect(await fcrOf(t.id)).toBe('yes');
    await patch(t.id, { status: 'open' });
    expect(await fcrOf(t.id)).toBe('yes');
  });

  it('a call logged as resolved is the one interaction', async () => {
    const t = await newTicket(agentA.id);
    const call = await ctx.app.inject({ method: 'POST', url: `/v1/tickets/${t.id}/calls`, headers: bearer(agentA.token), payload: { outcome: 'resolved', durationSec: 240, status: 'solved' } });
    expect(call.statusCode, call.body).toBe(201);
    expect(call.json().ticket.firstResponseAt).not.toBeNull();
    await afterWindow();
    expect(await fcrOf(t.id)).toBe('yes');
  });
});

describe('CSAT', () => {
  it('offers a survey on solve through the outbox, takes one answer, refuses a second and an expired token', async () => {
    const t = await newTicket(agentA.id);
    await reply(agentA.token, t.id, { status: 'solved' });
    const [survey] = await ctx.deps.db.select().from(csatSurveys).where(eq(csatSurveys.ticketId, t.id));
    expect(survey).toMatchObject({ agentId: agentA.id, channel: 'email', respondedAt: null });
    const queued = await ctx.deps.db.select().from(outbox).where(eq(outbox.ticketId, t.id));
    const offer = queued.map((o) => o.payload?.text ?? '').find((text) => text.includes('/v1/csat/'));
    expect(offer).toMatch(/https:\/\/desk\.example\.com\/v1\/csat\/[A-Za-z0-9_-]+/);
    const token = /\/v1\/csat\/([A-Za-z0-9_-]+)/.exec(offer!)![1]!;

    const read = await ctx.app.inject({ method: 'GET', url: `/v1/csat/${token}` });
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toMatchObject({ answered: false, expired: false });
    const answered = await ctx.app.inject({ method: 'POST', url: `/v1/csat/${token}`, payload: { score: 4, comment: 'Quick and kind' } });
    expect(answered.statusCode, answered.body).toBe(201);
    const again = await ctx.app.inject({ method: 'POST', url: `/v1/csat/${token}`, payload: { score: 1 } });
    expect(again.statusCode).toBe(409);
    const events = (await ctx.app.inject({ method: 'GET', url: `/v1/tickets/${t.id}/events`, headers: bearer(ctx.adminToken) })).json().items;
    expect(events.find((e: { type: string }) => e.type === 'csat').data).toMatchObject({ score: 4, comment: 'Quick and kind' });

    const t2 = await newTicket(agentA.id);
    await reply(agentA.token, t2.id, { status: 'solved' });
    const offer2 = (await ctx.deps.db.select().from(outbox).where(eq(outbox.ticketId, t2.id))).map((o) => o.payload?.text ?? '').find((x) => x.includes('/v1/csat/'))!;
    const token2 = /\/v1\/csat\/([A-Za-z0-9_-]+)/.exec(offer2)![1]!;
    clock.advance(15 * 24 * HOUR);
    expect((await ctx.app.inject({ method: 'POST', url: `/v1/csat/${token2}`, payload: { score: 5 } })).statusCode).toBe(410);
  });

  it('answers 404 for an unknown token and 400 for a bad score, without an API key', async () => {
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/csat/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' })).statusCode).toBe(404);
    // Beyond every scale (CSAT 1-5, CES 1-7, NPS 0-10, issue 16): refused before the token is looked up; within 0-10 the token's kind decides.
    const bad = await ctx.app.inject({ method: 'POST', url: '/v1/csat/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', payload: { score: 11 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('body.score');
  });
});
