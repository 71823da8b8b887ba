import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  createAgent,
  createTeam,
  createTicket,
  eventTypes,
  expectProblem,
  manualClock,
  MINUTE,
  patchTicket,
  tokenFor,
  type AgentJson,
  type TicketJson,
} from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

/** Events of the lifecycle itself, without what FCR and CSAT record when a ticket is solved. */
const isLifecycleEvent = (type: string) => !/^(fcr_|csat_|survey_)/.test(type);

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

const url = (ticket: { id: string }, suffix = '') => `/v1/tickets/${ticket.id}${suffix}`;
const read = async (ticket: { id: string }) => (await client(ctx).get(url(ticket))).json<TicketJson>();
const now = () => manualClock(ctx).now().toISOString();
const tick = () => manualClock(ctx).advance(MINUTE);

interface MessageJson {
  id: string;
  direction: string;
  kind: string;
  public: boolean;
  body: string;
  authorAgentId: string | null;
  deliveryState: string | null;
}
interface EventJson {
  id: number;
  ticketId: string;
  type: string;
  actorKind: string;
  actorId: string | null;
  data: Record<string, unknown>;
}

async function setStatus(ticket: { id: string }, ...statuses: string[]): Promise<TicketJson> {
  let current = await read(ticket);
  for (const status of statuses) {
    const res = await patchTicket(ctx, current, { status });
    expect(res.statusCode, res.body).toBe(200);
    current = res.json<TicketJson>();
    tick();
  }
  return current;
}

async function post(ticket: { id: string }, body: Record<string, unknown>, token?: string) {
  return client(ctx, token).post(url(ticket, '/messages'), body);
}

describe('PATCH /v1/tickets/:id: optimistic concurrency', () => {
  it('accepts If-Match with the current version, bumps it and answers the new ETag', async () => {
    const ticket = await createTicket(ctx);
    tick();
    const res = await client(ctx).patch(url(ticket), { priority: 'high', subject: 'Kettle still broken' }, { 'if-match': '"1"' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ priority: 'high', subject: 'Kettle still broken', version: 2, updatedAt: now() });
    expect(res.headers.etag).toBe('"2"');
    // Weak and bare entity tags work too.
    expect((await client(ctx).patch(url(ticket), { priority: 'low' }, { 'if-match': 'W/"2"' })).statusCode).toBe(200);
    expect((await client(ctx).patch(url(ticket), { priority: 'urgent' }, { 'if-match': '3' })).statusCode).toBe(200);
    expect(await eventTypes(ctx, ticket.id)).toEqual(['created', 'customer_message', 'priority_changed', 'subject_changed', 'priority_changed', 'priority_changed']);
  });

  it('accepts the version as a body field', async () => {
    const ticket = await createTicket(ctx);
    const res = await client(ctx).patch(url(ticket), { tags: ['vip'], version: 1 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ tags: ['vip'], version: 2 });
  });

  it('answers a stale If-Match with 412 and a stale version field with 409, changing nothing', async () => {
    const ticket = await createTicket(ctx);
    await patchTicket(ctx, ticket, { priority: 'high' });
    const stale = expectProblem(await client(ctx).patch(url(ticket), { priority: 'low' }, { 'if-match': '"1"' }), 412, { code: 'stale-version', field: 'header.if-match' });
    expect(stale.currentVersion).toBe(2);
    const conflict = expectProblem(await client(ctx).patch(url(ticket), { priority: 'low', version: 1 }), 409, { code: 'stale-version' });
    expect(conflict.currentVersion).toBe(2);
    expect(await read(ticket)).toMatchObject({ priority: 'high', version: 2 });
  });

  it('answers 428 when neither If-Match nor version is sent', async () => {
    const ticket = await createTicket(ctx);
    expectProblem(await client(ctx).patch(url(ticket), { priority: 'low' }), 428, { code: 'version-required', field: 'header.if-match' });
    expect((await read(ticket)).version).toBe(1);
  });

  it('lets exactly one of two concurrent PATCHes on the same version through (If-Match: the other 412)', async () => {
    const ticket = await createTicket(ctx);
    for (let round = 0; round < 5; round++) {
      const { version } = await read(ticket);
      const answers = await Promise.all(
        ['a', 'b'].map((who) => client(ctx).patch(url(ticket), { subject: `${who} ${round}` }, { 'if-match': `"${version}"` })),
      );
      expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 412]);
      const winner = answers.find((r) => r.statusCode === 200)!.json<TicketJson>();
      expect(await read(ticket)).toMatchObject({ subject: winner.subject, version: version + 1 });
    }
  });

  it('lets exactly one of five concurrent PATCHes on the same version through (version field: the others 409)', async () => {
    const ticket = await createTicket(ctx);
    const answers = await Promise.all(['low', 'high', 'urgent', 'low', 'high'].map((priority, i) => client(ctx).patch(url(ticket), { priority, subject: `writer ${i}`, version: 1 })));
    expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 409, 409, 409, 409]);
    expect((await read(ticket)).version).toBe(2);
    expect((await eventTypes(ctx, ticket.id)).filter((type) => type === 'subject_changed')).toHaveLength(1);
  });

  it('answers a PATCH that changes nothing with the ticket as it is, without a new version', async () => {
    const ticket = await createTicket(ctx, { priority: 'high' });
    const res = await patchTicket(ctx, ticket, { priority: 'high' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ version: 1 });
    expect(await eventTypes(ctx, ticket.id)).toEqual(['created', 'customer_message']);
  });
});

describe('PATCH /v1/tickets/:id: status, assignment and team', () => {
  it('refuses forbidden transitions with 409 invalid-transition, leaving the ticket as it was', async () => {
    const ticket = await createTicket(ctx);
    const problem = expectProblem(await patchTicket(ctx, ticket, { status: 'closed' }), 409, { code: 'invalid-transition', field: 'body.status' });
    expect(problem).toMatchObject({ from: 'new', to: 'closed' });
    expect(await read(ticket)).toMatchObject({ status: 'new', version: 1 });

    const closed = await setStatus(ticket, 'solved', 'closed');
    expect(closed.closedAt).not.toBeNull();
    for (const status of ['open', 'new', 'pending', 'solved']) {
      expectProblem(await patchTicket(ctx, closed, { status }), 409, { code: 'invalid-transition' });
    }
    const pending = await setStatus(await createTicket(ctx), 'pending');
    expectProblem(await patchTicket(ctx, pending, { status: 'new' }), 409, { code: 'invalid-transition' });
  });

  it('solves (setting solvedAt), reopens (counting it, clearing solvedAt) and closes', async () => {
    const ticket = await createTicket(ctx);
    tick();
    const solvedAt = now();
    const solved = await setStatus(ticket, 'solved');
    expect(solved).toMatchObject({ status: 'solved', solvedAt, reopenCount: 0 });
    const reopened = await setStatus(solved, 'open');
    expect(reopened).toMatchObject({ status: 'open', solvedAt: null, reopenCount: 1 });
    const again = await setStatus(reopened, 'on_hold', 'solved', 'open');
    expect(again).toMatchObject({ status: 'open', solvedAt: null, reopenCount: 2 });
    const solvedAgain = await setStatus(again, 'solved');
    const closedAt = now();
    const closed = await setStatus(solvedAgain, 'closed');
    expect(closed).toMatchObject({ status: 'closed', closedAt });
    // Solving also settles FCR and offers a survey (their own tests cover them).
    expect((await eventTypes(ctx, ticket.id)).filter(isLifecycleEvent)).toEqual([
      'created',
      'customer_message',
      'status_changed',
      'reopened',
      'status_changed',
      'status_changed',
      'status_changed',
      'reopened',
      'status_changed',
      'status_changed',
      'status_changed',
    ]);
  });

  it('records the timeline in order with actor and data, paginated oldest first', async () => {
    const agent = await createAgent(ctx);
    const ticket = await createTicket(ctx);
    await setStatus(ticket, 'open', 'pending');
    const assigned = await patchTicket(ctx, ticket, { assigneeId: agent.id });
    expect(assigned.statusCode).toBe(200);
    const all = (await client(ctx).get(url(ticket, '/events'))).json<{ items: EventJson[] }>().items;
    expect(all.map((e) => [e.type, e.data])).toEqual([
      ['created', { channel: 'email', priority: 'normal', source: 'api' }],
      ['customer_message', { messageId: expect.any(String) }],
      ['status_changed', { from: 'new', to: 'open' }],
      ['status_changed', { from: 'open', to: 'pending' }],
      ['assigned', { from: null, to: agent.id, handoff: false }],
    ]);
    expect(all.every((e) => e.ticketId === ticket.id && e.actorKind === 'api_key')).toBe(true);
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((a, b) => a - b));

    const first = (await client(ctx).get(url(ticket, '/events?limit=2'))).json<{ items: EventJson[]; nextCursor: string }>();
    const second = (await client(ctx).get(url(ticket, `/events?limit=2&cursor=${first.nextCursor}`))).json<{ items: EventJson[]; nextCursor: string }>();
    const third = (await client(ctx).get(url(ticket, `/events?limit=2&cursor=${second.nextCursor}`))).json<{ items: EventJson[]; nextCursor: string | null }>();
    expect([...first.items, ...second.items, ...third.items].map((e) => e.id)).toEqual(all.map((e) => e.id));
    expect(third.nextCursor).toBeNull();
    expectProblem(await client(ctx).get('/v1/tickets/0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a/events'), 404);
  });

  it('counts handoffs: changes of assignee after the first assignment', async () => {
    const [a, b, c] = await Promise.all([createAgent(ctx), createAgent(ctx), createAgent(ctx)]);
    const ticket = await createTicket(ctx);
    const step = async (assigneeId: string | null, handoffCount: number) => {
      const res = await patchTicket(ctx, ticket, { assigneeId });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ assigneeId: assigneeId?.toLowerCase() ?? null, handoffCount });
    };
    await step(a!.id, 0); // the first assignment is no handoff
    await step(a!.id, 0); // the same agent again changes nothing
    await step(b!.id, 1);
    await step(null, 1); // unassigning hands to nobody
    await step(c!.id, 2); // but the next agent is a new pair of hands
    await step(a!.id, 3);
    await step(a!.id.toUpperCase(), 3); // the same agent, spelt in upper case: no handoff
    const events = (await client(ctx).get(url(ticket, '/events'))).json<{ items: EventJson[] }>().items.filter((e) => e.type === 'assigned');
    expect(events.map((e) => e.data.handoff)).toEqual([false, true, false, true, true]);

    // A ticket born assigned: the first reassignment is already a handoff.
    const born = await createTicket(ctx, { assigneeId: a!.id });
    expect((await patchTicket(ctx, born, { assigneeId: b!.id })).json()).toMatchObject({ handoffCount: 1 });
  });

  it('refuses an unknown or deactivated assignee with 400 naming body.assigneeId', async () => {
    const ticket = await createTicket(ctx);
    expectProblem(await patchTicket(ctx, ticket, { assigneeId: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a' }), 400, { field: 'body.assigneeId' });
    const gone = await createAgent(ctx);
    expect((await client(ctx).delete(`/v1/agents/${gone.id}`)).statusCode).toBe(200);
    expectProblem(await patchTicket(ctx, ticket, { assigneeId: gone.id }), 400, { field: 'body.assigneeId' });
    expect((await read(ticket)).version).toBe(1);
  });

  it('changes team (unknown team → 400 naming body.teamId) and de-duplicates tags', async () => {
    const team = await createTeam(ctx);
    const ticket = await createTicket(ctx);
    expectProblem(await patchTicket(ctx, ticket, { teamId: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a' }), 400, { field: 'body.teamId' });
    const res = await patchTicket(ctx, ticket, { teamId: team.id, tags: ['a', 'b', 'a'] });
    expect(res.json()).toMatchObject({ teamId: team.id, tags: ['a', 'b'] });
    expect((await patchTicket(ctx, ticket, { teamId: null })).json()).toMatchObject({ teamId: null });
    expect(await eventTypes(ctx, ticket.id)).toEqual(['created', 'customer_message', 'team_changed', 'tags_changed', 'team_changed']);
  });

  it('refuses to reassign a closed ticket (409)', async () => {
    const agent = await createAgent(ctx);
    const closed = await setStatus(await createTicket(ctx), 'solved', 'closed');
    expectProblem(await patchTicket(ctx, closed, { assigneeId: agent.id }), 409, { code: 'ticket-closed' });
  });

  it('answers 404 for a ticket that does not exist', async () => {
    expectProblem(await client(ctx).patch('/v1/tickets/0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a', { priority: 'low' }, { 'if-match': '"1"' }), 404, { code: 'not-found' });
  });
});

describe('messages: replies and notes', () => {
  let agent: AgentJson;
  beforeAll(async () => {
    agent = await createAgent(ctx);
  });

  it('a first public reply sets firstResponseAt once and moves new → open', async () => {
    const ticket = await createTicket(ctx);
    tick();
    const firstAt = now();
    const res = await post(ticket, { body: 'We are sorry, a new kettle is on its way', public: true, authorAgentId: agent.id });
    expect(res.statusCode, res.body).toBe(201);
    const { message, ticket: after } = res.json<{ message: MessageJson; ticket: TicketJson }>();
    expect(message).toMatchObject({ direction: 'outbound', kind: 'message', public: true, authorAgentId: agent.id, deliveryState: 'queued' });
    expect(after).toMatchObject({ status: 'open', firstResponseAt: firstAt, version: 2 });

    tick();
    const second = (await post(ticket, { body: 'Tracking number: 123', public: true })).json<{ ticket: TicketJson }>().ticket;
    expect(second).toMatchObject({ status: 'open', firstResponseAt: firstAt });
    expect(await eventTypes(ctx, ticket.id)).toEqual(['created', 'customer_message', 'agent_reply', 'first_response', 'status_changed', 'agent_reply']);
  });

  it('an internal note neither responds nor opens the ticket', async () => {
    const ticket = await createTicket(ctx);
    const res = await post(ticket, { body: 'Customer called twice already', public: false });
    expect(res.statusCode, res.body).toBe(201);
    const { message, ticket: after } = res.json<{ message: MessageJson; ticket: TicketJson }>();
    expect(message).toMatchObject({ direction: 'internal', kind: 'note', public: false, deliveryState: null });
    expect(after).toMatchObject({ status: 'new', firstResponseAt: null });
    expect(await eventTypes(ctx, ticket.id)).toEqual(['created', 'customer_message', 'note_added']);
  });

  it('a reply with status "solved" answers and solves in one step (one new version)', async () => {
    const ticket = await createTicket(ctx);
    tick();
    const at = now();
    const after = (await post(ticket, { body: 'Refund issued', public: true, status: 'solved' })).json<{ ticket: TicketJson }>().ticket;
    expect(after).toMatchObject({ status: 'solved', solvedAt: at, firstResponseAt: at, version: 2 });
    expect((await eventTypes(ctx, ticket.id)).filter(isLifecycleEvent)).toEqual(['created', 'customer_message', 'agent_reply', 'first_response', 'status_changed', 'status_changed']);
  });

  it('a reply with a status the ticket cannot take is refused whole (409, no message stored)', async () => {
    const ticket = await setStatus(await createTicket(ctx), 'pending');
    expectProblem(await post(ticket, { body: 'hm', public: true, status: 'new' }), 409, { code: 'invalid-transition' });
    const messages = (await client(ctx).get(url(ticket, '/messages'))).json<{ items: unknown[] }>().items;
    expect(messages).toHaveLength(1);
    expect((await read(ticket)).firstResponseAt).toBeNull();
  });

  it('refuses replies and notes on a closed ticket with 409', async () => {
    const closed = await setStatus(await createTicket(ctx), 'solved', 'closed');
    expectProblem(await post(closed, { body: 'Hello?', public: true }), 409, { code: 'ticket-closed' });
    expectProblem(await post(closed, { body: 'note', public: false }), 409, { code: 'ticket-closed' });
    expect((await read(closed)).version).toBe(closed.version);
  });

  it('pages the conversation oldest first', async () => {
    const ticket = await createTicket(ctx, { body: 'message 0' });
    for (let i = 1; i <= 4; i++) {
      tick();
      expect((await post(ticket, { body: `message ${i}`, public: i % 2 === 0 })).statusCode).toBe(201);
    }
    const bodies: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await client(ctx).get(url(ticket, `/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`));
      expect(res.statusCode).toBe(200);
      const page = res.json<{ items: MessageJson[]; nextCursor: string | null }>();
      bodies.push(...page.items.map((m) => m.body));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(bodies).toEqual(['message 0', 'message 1', 'message 2', 'message 3', 'message 4']);
    expect(pages).toBe(3);
    expectProblem(await client(ctx).get('/v1/tickets/0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a/messages'), 404);
  });

  it('credits a reply to the agent whose key sent it', async () => {
    const token = await tokenFor(ctx, 'agent', agent.id);
    const ticket = await createTicket(ctx);
    const { message } = (await post(ticket, { body: 'On it', public: true }, token)).json<{ message: MessageJson }>();
    expect(message.authorAgentId).toBe(agent.id);
    const events = (await client(ctx).get(url(ticket, '/events'))).json<{ items: EventJson[] }>().items;
    expect(events.find((e) => e.type === 'agent_reply')).toMatchObject({ actorKind: 'agent', actorId: agent.id });
  });

  it('refuses an unknown authorAgentId with 400 naming body.authorAgentId', async () => {
    const ticket = await createTicket(ctx);
    expectProblem(await post(ticket, { body: 'x', public: true, authorAgentId: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a' }), 400, { field: 'body.authorAgentId' });
  });
});

describe('POST /v1/tickets/:id/merge', () => {
  const merge = (source: { id: string }, targetTicketId: string) => client(ctx).post(url(source, '/merge'), { targetTicketId });

  it('moves messages and events to the target, closes the source and links it', async () => {
    const source = await createTicket(ctx, { channel: 'twitter', body: 'Tweet about the kettle' });
    tick();
    await post(source, { body: 'Reply on X', public: true });
    tick();
    const target = await createTicket(ctx, { channel: 'email', body: 'E-mail about the kettle' });
    tick();
    const at = now();
    const res = await merge(source, target.id);
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json<{ source: TicketJson; target: TicketJson }>();
    expect(result.source).toMatchObject({ id: source.id, status: 'closed', closedAt: at, mergedIntoId: target.id });
    expect(result.target).toMatchObject({ id: target.id, status: 'new', version: target.version + 1, updatedAt: at });

    const targetMessages = (await client(ctx).get(url(target, '/messages'))).json<{ items: MessageJson[] }>().items;
    expect(targetMessages.map((m) => m.body)).toEqual(['Tweet about the kettle', 'Reply on X', 'E-mail about the kettle']);
    expect((await client(ctx).get(url(source, '/messages'))).json<{ items: unknown[] }>().items).toEqual([]);

    const targetEvents = (await client(ctx).get(url(target, '/events'))).json<{ items: EventJson[] }>().items;
    expect(targetEvents.every((e) => e.ticketId === target.id)).toBe(true);
    // The source's history comes along (in the order it happened), then the merge itself.
    expect(targetEvents.map((e) => e.type)).toEqual(['created', 'customer_message', 'agent_reply', 'first_response', 'status_changed', 'created', 'customer_message', 'merged_from']);
    expect(targetEvents.at(-1)!.data).toEqual({ sourceId: source.id, sourceNumber: source.number, channel: 'twitter' });

    const sourceEvents = (await client(ctx).get(url(source, '/events'))).json<{ items: EventJson[] }>().items;
    expect(sourceEvents.map((e) => [e.type, e.data])).toEqual([
      ['status_changed', { from: 'open', to: 'closed', reason: 'merged' }],
      ['merged_into', { targetId: target.id, targetNumber: target.number }],
    ]);
  });

  it('refuses to merge a ticket into itself (400 naming body.targetTicketId), whatever the case of the id', async () => {
    const ticket = await createTicket(ctx);
    expectProblem(await merge(ticket, ticket.id), 400, { field: 'body.targetTicketId' });
    expectProblem(await merge(ticket, ticket.id.toUpperCase()), 400, { field: 'body.targetTicketId' });
    expect(await read(ticket)).toMatchObject({ status: 'new', mergedIntoId: null });
  });

  it('takes a target id in upper case as the same ticket', async () => {
    const [source, target] = [await createTicket(ctx), await createTicket(ctx)];
    const res = await merge(source, target.id.toUpperCase());
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ source: { mergedIntoId: target.id }, target: { id: target.id } });
  });

  it('refuses to merge into a closed ticket, or a closed (or already merged) source, with 409', async () => {
    const closed = await setStatus(await createTicket(ctx), 'solved', 'closed');
    const open = await createTicket(ctx);
    expectProblem(await merge(open, closed.id), 409, { code: 'ticket-closed' });
    expectProblem(await merge(closed, open.id), 409, { code: 'ticket-closed' });
    const other = await createTicket(ctx);
    expect((await merge(open, other.id)).statusCode).toBe(200);
    expectProblem(await merge(open, other.id), 409, { code: 'ticket-closed' });
  });

  // Ids at both ends of the uuid order, so the unknown one is locked first in one case and second in the other.
  const LOW = '00000000-0000-4000-8000-000000000000';
  const HIGH = 'ffffffff-ffff-4fff-bfff-ffffffffffff';

  it.each([LOW, HIGH])('refuses an unknown target %s with 400 naming body.targetTicketId, changing nothing', async (unknown) => {
    const source = await createTicket(ctx);
    expectProblem(await merge(source, unknown), 400, { field: 'body.targetTicketId' });
    expect(await read(source)).toMatchObject({ status: 'new', mergedIntoId: null, version: 1 });
    expect((await client(ctx).get(url(source, '/messages'))).json<{ items: unknown[] }>().items).toHaveLength(1);
  });

  it.each([LOW, HIGH])('answers 404 for an unknown source %s, leaving the target alone', async (unknown) => {
    const target = await createTicket(ctx);
    expectProblem(await client(ctx).post(`/v1/tickets/${unknown}/merge`, { targetTicketId: target.id }), 404, { code: 'not-found' });
    expect(await read(target)).toMatchObject({ status: 'new', mergedIntoId: null, version: 1 });
  });

  it('two opposite merges at once: one wins, the other is refused, no deadlock', async () => {
    const a = await createTicket(ctx);
    const b = await createTicket(ctx);
    const answers = await Promise.all([merge(a, b.id), merge(b, a.id)]);
    expect(answers.map((r) => r.statusCode).sort()).toEqual([200, 409]);
    const [ra, rb] = [await read(a), await read(b)];
    expect([ra.status, rb.status].sort()).toEqual(['closed', 'new']);
  });
});
