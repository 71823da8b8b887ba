import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ticketView } from '../../../src/modules/tickets/tickets.schemas.js';
import { client, createAgent, createTeam, createTicket, eventTypes, expectProblem, manualClock, tokenFor, unique, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

interface CustomerJson {
  id: string;
  name: string | null;
  identities: { kind: string; address: string; displayName: string | null }[];
  tickets: TicketJson[];
}
const getCustomer = async (id: string) => {
  const res = await client(ctx).get(`/v1/customers/${id}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<CustomerJson>();
};

describe('POST /v1/tickets', () => {
  it('answers 201 with exactly the ticket view, numbered from 1000, with ETag and Location', async () => {
    const now = manualClock(ctx).now().toISOString();
    const res = await client(ctx).post('/v1/tickets', {
      channel: 'email',
      customer: { email: 'first@example.com', name: 'First Customer' },
      subject: 'Broken kettle',
      body: 'It leaks all over the counter',
    });
    expect(res.statusCode, res.body).toBe(201);
    const ticket = res.json<TicketJson>();
    expect(Object.keys(ticket).sort()).toEqual(Object.keys(ticketView.shape).sort());
    expect(ticket).toMatchObject({
      number: 1000,
      status: 'new',
      priority: 'normal',
      channel: 'email',
      subject: 'Broken kettle',
      assigneeId: null,
      teamId: null,
      language: null,
      tags: [],
      createdAt: now,
      updatedAt: now,
      firstResponseAt: null,
      solvedAt: null,
      closedAt: null,
      reopenCount: 0,
      handoffCount: 0,
      escalationLevel: 0,
      mergedIntoId: null,
      followUpOfId: null,
      version: 1,
    });
    expect(res.headers.etag).toBe(`"${ticket.version}"`);
    expect(res.headers.location).toBe(`/v1/tickets/${ticket.id}`);
    // Nothing internal leaks: no description, search vector or first-assignment time.
    expect(res.body).not.toMatch(/description|search|firstAssignedAt/);

    const second = await createTicket(ctx);
    expect(second.number).toBe(1001);
  });

  it('reads a ticket back with the same JSON and ETag, and answers 404 for an unknown id', async () => {
    const created = await createTicket(ctx, { priority: 'urgent', language: 'he', tags: ['vip', 'refund'] });
    const res = await client(ctx).get(`/v1/tickets/${created.id}`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(created);
    expect(res.headers.etag).toBe(`"${created.version}"`);

    expectProblem(await client(ctx).get('/v1/tickets/5d0c4b8e-7a43-4d1e-9a53-2f1c3c2b9e10'), 404, { code: 'not-found' });
  });

  it('records the complaint as the first inbound message and the created/customer_message events', async () => {
    const ticket = await createTicket(ctx, { channel: 'phone', customer: { phone: '+48 22 123 45 67' }, body: 'Dzwonię w sprawie reklamacji' });
    const messages = (await client(ctx).get(`/v1/tickets/${ticket.id}/messages`)).json<{ items: Record<string, unknown>[] }>().items;
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      ticketId: ticket.id,
      direction: 'inbound',
      kind: 'message',
      public: true,
      authorKind: 'customer',
      channel: 'phone',
      body: 'Dzwonię w sprawie reklamacji',
      subject: 'Broken kettle',
    });
    expect(await eventTypes(ctx, ticket.id)).toEqual(['created', 'customer_message']);
  });

  it('finds the same customer for the same e-mail address, whatever its case', async () => {
    const email = `${unique('dana')}@example.com`;
    const a = await createTicket(ctx, { customer: { email, name: 'Dana' } });
    const b = await createTicket(ctx, { customer: { email: email.toUpperCase() } });
    expect(b.customerId).toBe(a.customerId);
    const customer = await getCustomer(a.customerId);
    expect(customer.name).toBe('Dana');
    expect(customer.identities).toEqual([expect.objectContaining({ kind: 'email', address: email, displayName: 'Dana' })]);
    expect(customer.tickets.map((t) => t.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('normalizes phone numbers: "+972 50-123-4567" and "0501234567" (default region IL) are one customer', async () => {
    const a = await createTicket(ctx, { channel: 'phone', customer: { phone: '+972 50-123-4567' } });
    const b = await createTicket(ctx, { channel: 'phone', customer: { phone: '0501234567' } });
    expect(b.customerId).toBe(a.customerId);
    const customer = await getCustomer(a.customerId);
    expect(customer.identities).toEqual([expect.objectContaining({ kind: 'phone', address: '+972501234567' })]);
  });

  it('links e-mail and phone given together, so either alone finds the customer later', async () => {
    const email = `${unique('noa')}@example.com`;
    const both = await createTicket(ctx, { customer: { email, phone: '052-765-4321', name: 'Noa' } });
    const byPhone = await createTicket(ctx, { channel: 'phone', customer: { phone: '+972527654321' } });
    const byEmail = await createTicket(ctx, { customer: { email } });
    expect(byPhone.customerId).toBe(both.customerId);
    expect(byEmail.customerId).toBe(both.customerId);
    const kinds = (await getCustomer(both.customerId)).identities.map((i) => `${i.kind}:${i.address}`).sort();
    expect(kinds).toEqual([`email:${email}`, 'phone:+972527654321']);
  });

  it('creates a customer from a name alone (no identity, so a new one each time)', async () => {
    const a = await createTicket(ctx, { channel: 'phone', customer: { name: 'Anonymous caller' } });
    const b = await createTicket(ctx, { channel: 'phone', customer: { name: 'Anonymous caller' } });
    expect(a.customerId).not.toBe(b.customerId);
    const customer = await getCustomer(a.customerId);
    expect(customer).toMatchObject({ name: 'Anonymous caller', identities: [] });
  });

  it('opens a ticket for an existing customer by customerId', async () => {
    const first = await createTicket(ctx);
    const second = await createTicket(ctx, { customer: undefined, customerId: first.customerId, channel: 'twitter' });
    expect(second.customerId).toBe(first.customerId);
    expect((await getCustomer(first.customerId)).tickets.map((t) => t.id)).toContain(second.id);
  });

  it('refuses an unknown customerId with 400 naming body.customerId', async () => {
    const res = await client(ctx).post('/v1/tickets', {
      channel: 'email',
      customerId: '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a',
      subject: 's',
      body: 'b',
    });
    expectProblem(res, 400, { code: 'validation', field: 'body.customerId' });
  });

  it('refuses a phone number that is not one, naming body.customer.phone', async () => {
    const res = await client(ctx).post('/v1/tickets', { channel: 'phone', customer: { phone: 'call me maybe' }, subject: 's', body: 'b' });
    expectProblem(res, 400, { field: 'body.customer.phone' });
  });

  it('takes assignee, team, language, tags and priority at creation, and records the assignment', async () => {
    const team = await createTeam(ctx);
    const agent = await createAgent(ctx, { teamId: team.id });
    const ticket = await createTicket(ctx, { assigneeId: agent.id, teamId: team.id, language: 'pl', tags: ['damaged'], priority: 'high' });
    expect(ticket).toMatchObject({ assigneeId: agent.id, teamId: team.id, language: 'pl', tags: ['damaged'], priority: 'high', handoffCount: 0 });
    expect(await eventTypes(ctx, ticket.id)).toEqual(['created', 'customer_message', 'assigned']);
  });

  it('refuses an unknown assignee or team at creation, naming the field', async () => {
    const unknown = '7a1d3c5e-2b4f-4a6c-8d9e-0f1a2b3c4d5e';
    expectProblem(await client(ctx).post('/v1/tickets', { channel: 'email', customer: { name: 'x' }, subject: 's', body: 'b', assigneeId: unknown }), 400, { field: 'body.assigneeId' });
    expectProblem(await client(ctx).post('/v1/tickets', { channel: 'email', customer: { name: 'x' }, subject: 's', body: 'b', teamId: unknown }), 400, { field: 'body.teamId' });
  });

  it('lets an integration key open a ticket, recorded as the api key acting', async () => {
    const token = await tokenFor(ctx, 'integration');
    const ticket = await createTicket(ctx, {}, token);
    const events = (await client(ctx).get(`/v1/tickets/${ticket.id}/events`)).json<{ items: { type: string; actorKind: string }[] }>().items;
    expect(events[0]).toMatchObject({ type: 'created', actorKind: 'api_key' });
  });
});
