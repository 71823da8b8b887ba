import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createTicket, eventTypes, expectProblem, manualClock, MINUTE, tokenFor, unique, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(async () => ctx?.close());

interface CustomerJson {
  id: string;
  name: string | null;
  language: string | null;
  mergedIntoId: string | null;
  identities: { id: string; kind: string; address: string; displayName: string | null; handle: string | null }[];
  tickets: TicketJson[];
}

const getCustomer = async (id: string) => {
  const res = await client(ctx).get(`/v1/customers/${id}`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json<CustomerJson>();
};
const mergeCustomers = (sourceId: string, targetCustomerId: string) => client(ctx).post(`/v1/customers/${sourceId}/merge`, { targetCustomerId });

describe('GET /v1/customers/:id', () => {
  it('shows the customer with every identity and their tickets, newest first', async () => {
    const email = `${unique('miriam')}@example.com`;
    const first = await createTicket(ctx, { customer: { email, phone: '+972 54-555-1212', name: 'Miriam' }, language: 'he' });
    manualClock(ctx).advance(MINUTE);
    const second = await createTicket(ctx, { channel: 'phone', customer: { phone: '054-555-1212' } });
    const customer = await getCustomer(first.customerId);
    expect(customer).toMatchObject({ id: first.customerId, name: 'Miriam', language: 'he', mergedIntoId: null });
    expect(customer.identities.map((i) => `${i.kind}:${i.address}`).sort()).toEqual([`email:${email}`, 'phone:+972545551212']);
    expect(customer.identities.every((i) => i.displayName === 'Miriam' && i.handle === null)).toBe(true);
    expect(customer.identities[0]).not.toHaveProperty('customerId');
    expect(customer.tickets.map((t) => t.id)).toEqual([second.id, first.id]);
    expect(customer.tickets[1]).toEqual(first);
  });

  it('answers 404 for an unknown customer and 400 naming path.id for a non-uuid', async () => {
    expectProblem(await client(ctx).get('/v1/customers/0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a'), 404, { code: 'not-found' });
    expectProblem(await client(ctx).get('/v1/customers/42'), 400, { field: 'path.id' });
  });

  it('is for staff: an agent key reads customers, an integration key may not', async () => {
    const ticket = await createTicket(ctx);
    expect((await client(ctx, await tokenFor(ctx, 'agent')).get(`/v1/customers/${ticket.customerId}`)).statusCode).toBe(200);
    expectProblem(await client(ctx, await tokenFor(ctx, 'integration')).get(`/v1/customers/${ticket.customerId}`), 403, { code: 'forbidden' });
  });
});

describe('POST /v1/customers/:id/merge', () => {
  it('moves identities and tickets to the target and links the source to it', async () => {
    const sourceEmail = `${unique('src')}@example.com`;
    const a1 = await createTicket(ctx, { customer: { email: sourceEmail, name: 'Same person' } });
    const a2 = await createTicket(ctx, { customerId: a1.customerId, customer: undefined, channel: 'facebook' });
    const b1 = await createTicket(ctx, { channel: 'phone', customer: { phone: '+48 601 234 567' } });
    const [source, target] = [a1.customerId, b1.customerId];

    manualClock(ctx).advance(MINUTE);
    const res = await mergeCustomers(source, target);
    expect(res.statusCode, res.body).toBe(200);
    const merged = res.json<CustomerJson>();
    expect(merged.id).toBe(target);
    expect(merged.mergedIntoId).toBeNull();
    expect(merged.identities.map((i) => `${i.kind}:${i.address}`).sort()).toEqual([`email:${sourceEmail}`, 'phone:+48601234567']);
    expect(merged.tickets.map((t) => t.id).sort()).toEqual([a1.id, a2.id, b1.id].sort());

    const moved = merged.tickets.find((t) => t.id === a1.id)!;
    expect(moved).toMatchObject({ customerId: target, version: a1.version + 1, updatedAt: manualClock(ctx).now().toISOString() });
    expect(await eventTypes(ctx, a1.id)).toEqual(['created', 'customer_message', 'customer_merged']);

    const gone = await getCustomer(source);
    expect(gone).toMatchObject({ mergedIntoId: target, identities: [], tickets: [] });

    // The source's e-mail address and id now lead to the target.
    expect((await createTicket(ctx, { customer: { email: sourceEmail } })).customerId).toBe(target);
    expect((await createTicket(ctx, { customerId: source, customer: undefined })).customerId).toBe(target);
    // And the ticket list agrees.
    const listed = (await client(ctx).get(`/v1/tickets?customerId=${source}`)).json<{ items: unknown[] }>().items;
    expect(listed).toEqual([]);
  });

  it('refuses to merge a customer twice, or into a merged one, with 409', async () => {
    const [a, b, c] = [await createTicket(ctx), await createTicket(ctx), await createTicket(ctx)];
    expect((await mergeCustomers(a.customerId, b.customerId)).statusCode).toBe(200);
    expectProblem(await mergeCustomers(a.customerId, b.customerId), 409, { code: 'already-merged' });
    expectProblem(await mergeCustomers(a.customerId, c.customerId), 409, { code: 'already-merged' });
    expectProblem(await mergeCustomers(c.customerId, a.customerId), 409, { code: 'already-merged' });
    expect((await getCustomer(c.customerId)).mergedIntoId).toBeNull();
  });

  it('refuses a merge into itself (400), whatever the case of the id, changing nothing', async () => {
    const ticket = await createTicket(ctx);
    expectProblem(await mergeCustomers(ticket.customerId, ticket.customerId), 400, { field: 'body.targetCustomerId' });
    expectProblem(await mergeCustomers(ticket.customerId, ticket.customerId.toUpperCase()), 400, { field: 'body.targetCustomerId' });
    expect(await getCustomer(ticket.customerId)).toMatchObject({ mergedIntoId: null, tickets: [expect.objectContaining({ id: ticket.id })] });
  });

  it('refuses an unknown target (400 naming body.targetCustomerId) and an unknown source (404)', async () => {
    const ticket = await createTicket(ctx);
    const unknown = '0b7f2a1e-9d7c-4d55-8f0a-7c6b1e2d3f4a';
    expectProblem(await mergeCustomers(ticket.customerId, unknown), 400, { field: 'body.targetCustomerId' });
    expectProblem(await mergeCustomers(unknown, ticket.customerId), 404, { code: 'not-found' });
    expectProblem(await client(ctx).post(`/v1/customers/${ticket.customerId}/merge`, { targetCustomerId: 'nope' }), 400, { field: 'body.targetCustomerId' });
    expectProblem(await client(ctx).post(`/v1/customers/${ticket.customerId}/merge`, {}), 400, { field: 'body.targetCustomerId' });
  });
});
