import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventTypes, unique } from '../../helpers/api.js';
import type { TestContext } from '../../helpers/context.js';
import { deliveryContext, postReply, settled, startSmtp, type LocalSmtp } from '../../helpers/delivery.js';
import { count, identitiesOfTicket, onlyTicket, postEmail, query, rawEmail, webhookResult } from '../../helpers/webhooks.js';

/**
 * Issue 11 review: only the first From header names a sender we trust. A mail whose first From
 * had no usable address took a second From, a Reply-To or an X-Original-Sender as a verified
 * sender, so anyone could write "[#N]" onto the victim's ticket as the victim. Such mail is
 * still taken in (legacy clients send it), but as a claim: a customer of its own holding the
 * address as a suggestion, threaded by nothing that needs a known customer, never answered.
 */
interface CustomerJson {
  id: string;
  identities: { id: string; kind: string; address: string; status: 'verified' | 'suggested' }[];
}

let ctx: TestContext;
let smtp: LocalSmtp;
beforeAll(async () => {
  smtp = await startSmtp();
  ctx = await deliveryContext({ smtp });
});
afterAll(async () => {
  await ctx?.close();
  await smtp?.close();
});

const customer = async (id: string) => (await client(ctx).get(`/v1/customers/${id}`)).json<CustomerJson>();
const identities = (c: CustomerJson) => c.identities.map((i) => `${i.status} ${i.kind}:${i.address}`).sort();

const GARBAGE_FROM = 'john smith@evil.example';
const CLAIMS: [string, (victim: string) => Record<string, string>][] = [
  ['a second From header', (victim) => ({ From: victim })],
  ['a Reply-To alone', (victim) => ({ 'Reply-To': victim })],
  ['an X-Original-Sender', (victim) => ({ 'X-Original-Sender': victim })],
];

describe('a sender taken from a header other than the first From', () => {
  it.each(CLAIMS)('%s: lands on a new customer holding the address as a suggestion, never on the victim’s ticket', async (_, claim) => {
    const victim = `${unique('victim')}@bank.example`;
    const own = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: victim, subject: 'My account' })), { created: 1 }));
    const victimCustomerId = (await identitiesOfTicket(ctx, own.ticketId)).customerId;

    const forged = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: GARBAGE_FROM, subject: `Re: [#${own.number}] change my payout account`, headers: claim(victim) })), { created: 1 }));
    expect(forged.newTicket).toBe(true);
    expect(forged.ticketId).not.toBe(own.ticketId);
    const claimantId = (await identitiesOfTicket(ctx, forged.ticketId)).customerId;
    expect(claimantId).not.toBe(victimCustomerId);
    expect(identities(await customer(claimantId))).toEqual([`suggested email:${victim}`]);
    expect(identities(await customer(victimCustomerId))).toEqual([`verified email:${victim}`]);
    expect(await count(ctx, 'messages where ticket_id = $1', [own.ticketId])).toBe(1);
    expect(await eventTypes(ctx, forged.ticketId)).toContain('identity_suggested');

    // The message records the claim, but no address a reply would go to.
    const [stored] = await query<{ sender_address: string | null; data: Record<string, unknown> }>(
      ctx,
      "select m.sender_address, e.data from messages m join ticket_events e on e.ticket_id = m.ticket_id and e.type = 'customer_message' where m.ticket_id = $1",
      [forged.ticketId],
    );
    expect(stored).toEqual({ sender_address: null, data: expect.objectContaining({ claimedSender: `email:${victim}` }) });

    // The same claim again is another claimant, not the first one and not the victim.
    const again = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: GARBAGE_FROM, subject: `Re: [#${own.number}] again`, headers: claim(victim) })), { created: 1 }));
    expect([own.ticketId, forged.ticketId]).not.toContain(again.ticketId);
  });

  it('is never a reply destination: an agent’s answer on the claimant’s ticket reaches nobody', async () => {
    const victim = `${unique('victim')}@bank.example`;
    webhookResult(await postEmail(ctx, rawEmail({ from: victim })), { created: 1 });
    const forged = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: GARBAGE_FROM, headers: { 'Reply-To': victim } })), { created: 1 }));
    const replyId = await postReply(ctx, forged.ticketId, 'Your payout account was changed.');
    const outbox = await settled(ctx, replyId);
    expect(outbox.state).toBe('dead');
    expect(outbox.last_error).toMatch(/no email identity/);
    expect(smtp.accepted.filter((m) => m.envelope.to.includes(victim))).toHaveLength(0);
  });

  it('still joins a ticket whose Message-ID it answers (unguessable), without suggesting anything there', async () => {
    const owner = `${unique('owner')}@example.com`;
    const messageId = `<${unique('orig')}@customer.example>`;
    const own = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: owner, messageId })), { created: 1 }));
    const reply = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: 'Outlook Express', inReplyTo: messageId, headers: { 'Reply-To': owner } })), { created: 1 }));
    expect(reply).toEqual({ ...own, newTicket: false });
    expect((await identitiesOfTicket(ctx, own.ticketId)).identities).toEqual([`email:${owner}`]);
  });

  it('keeps trusting the first From: a valid first From with a forged second one is the first one’s mail', async () => {
    const victim = `${unique('victim')}@bank.example`;
    const honest = `${unique('honest')}@example.com`;
    const t = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: honest, headers: { From: victim } })), { created: 1 }));
    expect((await identitiesOfTicket(ctx, t.ticketId)).identities).toEqual([`email:${honest}`]);
    expect(await count(ctx, "customer_identities where address = $1", [victim])).toBe(0);
  });
});
