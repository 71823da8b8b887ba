import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, count, identitiesOfTicket, onlyTicket, postEmail, query, rawEmail, webhookResult } from '../../helpers/webhooks.js';

/**
 * Issue 11 review: confirming a suggested identity locked the claimer, then the holder; a merge
 * of the same two customers locks them in id order. Crossing, they deadlocked and one answered
 * 500 (26 of 40 races). And intake chose the customer before taking any lock, so a message
 * arriving during a merge could put its ticket on the customer just merged away.
 */
const ROUNDS = 12;
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
});
afterAll(async () => ctx?.close());

/** A customer known by one e-mail address, with one ticket. */
async function emailCustomer(label: string): Promise<{ id: string; address: string }> {
  const address = `${unique(label)}@example.com`;
  const ticket = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: address })), { created: 1 }));
  return { id: (await identitiesOfTicket(ctx, ticket.ticketId)).customerId, address };
}

const ticketsOnMergedCustomers = () => count(ctx, 'tickets t join customers c on c.id = t.customer_id where c.merged_into_id is not null');

describe('customer merges racing', () => {
  it(`confirm vs merge of the same two customers, ${ROUNDS} times: each answers 200 or 409, never 500, and one merge happens`, async () => {
    const statuses: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const a = await emailCustomer('ca');
      const b = await emailCustomer('cb');
      // Both directions of the crossing: the claimer's id below and above the holder's.
      const [claimer, holder] = i % 2 === 0 ? [a, b] : [b, a];
      const [suggestion] = await query<{ id: string }>(ctx, "insert into customer_identities (customer_id, kind, address, status) values ($1, 'email', $2, 'suggested') returning id", [claimer.id, holder.address]);
      const [merge, confirm] = await Promise.all([
        client(ctx).post(`/v1/customers/${claimer.id}/merge`, { targetCustomerId: holder.id }),
        client(ctx).post(`/v1/customers/${claimer.id}/identities/${suggestion!.id}/confirm`, {}),
      ]);
      statuses.push(merge.statusCode, confirm.statusCode);
      expect([merge.statusCode, confirm.statusCode].sort(), `${merge.body} ${confirm.body}`).toEqual([200, 409]);
      const merged = await query<{ id: string }>(ctx, 'select id from customers where id = any($1) and merged_into_id is not null', [[a.id, b.id]]);
      expect(merged).toHaveLength(1);
    }
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(await ticketsOnMergedCustomers()).toBe(0);
  });

  it(`a message arriving during a merge, ${ROUNDS} times: its ticket lands on the surviving customer, never on the one merged away`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const source = await emailCustomer('ms');
      const target = await emailCustomer('mt');
      const [merge, mail] = await Promise.all([
        client(ctx).post(`/v1/customers/${source.id}/merge`, { targetCustomerId: target.id }),
        postEmail(ctx, rawEmail({ from: source.address, subject: `During the merge ${i}` })),
      ]);
      expect(merge.statusCode, merge.body).toBe(200);
      const ticket = onlyTicket(webhookResult(mail, { created: 1 }));
      expect((await identitiesOfTicket(ctx, ticket.ticketId)).customerId).toBe(target.id);
    }
    expect(await ticketsOnMergedCustomers()).toBe(0);
  });

  it(`an agent's ticket for a customer id created during a merge of that customer, ${ROUNDS} times: it lands on the survivor`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const source = await emailCustomer('as');
      const target = await emailCustomer('at');
      const [merge, created] = await Promise.all([
        client(ctx).post(`/v1/customers/${source.id}/merge`, { targetCustomerId: target.id }),
        client(ctx).post('/v1/tickets', { channel: 'email', subject: `Opened during the merge ${i}`, body: 'x', customerId: source.id }),
      ]);
      expect(merge.statusCode, merge.body).toBe(200);
      expect(created.statusCode, created.body).toBe(201);
      // Created before the merge (on the then live source, moved by the merge) or after it (on
      // the survivor): either way the ticket ends on the survivor.
      const ticket = created.json<{ id: string; customerId: string }>();
      expect([source.id, target.id]).toContain(ticket.customerId);
      const [row] = (await ctx.deps.pool.query<{ customer_id: string }>('select customer_id from tickets where id = $1', [ticket.id])).rows;
      expect(row!.customer_id).toBe(target.id);
    }
    expect(await ticketsOnMergedCustomers()).toBe(0);
  });

  it(`a message arriving during a confirmation that merges its sender away, ${ROUNDS} times: never on the merged-away customer, never a 500`, async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const holder = await emailCustomer('hd');
      const claimer = await emailCustomer('cl');
      const [suggestion] = await query<{ id: string }>(ctx, "insert into customer_identities (customer_id, kind, address, status) values ($1, 'email', $2, 'suggested') returning id", [claimer.id, holder.address]);
      const [confirm, mail] = await Promise.all([
        client(ctx).post(`/v1/customers/${claimer.id}/identities/${suggestion!.id}/confirm`, {}),
        postEmail(ctx, rawEmail({ from: holder.address, subject: `During the confirmation ${i}` })),
      ]);
      expect(confirm.statusCode, confirm.body).toBe(200);
      const ticket = onlyTicket(webhookResult(mail, { created: 1 }));
      expect((await identitiesOfTicket(ctx, ticket.ticketId)).customerId).toBe(claimer.id);
    }
    expect(await ticketsOnMergedCustomers()).toBe(0);
  });
});
