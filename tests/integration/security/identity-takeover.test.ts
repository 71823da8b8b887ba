import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventTypes, expectProblem, tokenFor, unique } from '../../helpers/api.js';
import type { TestContext } from '../../helpers/context.js';
import { deliveryContext, graphResponder, postReply, settled, startProviderApi, startSmtp, type LocalSmtp, type ProviderApi } from '../../helpers/delivery.js';
import { facebookPayload, identitiesOfTicket, messengerEvent, onlyTicket, postEmail, postFacebook, rawEmail, webhookResult } from '../../helpers/webhooks.js';

/**
 * Issue 11, defect 5: typing someone's e-mail address into a Messenger message took over their
 * customer record; the agent's next reply on the victim's ticket went to the stranger's
 * Messenger. A revealed address is a claim: it becomes a suggested identity that links
 * nothing and changes no reply destination until an agent confirms it.
 */
interface CustomerJson {
  id: string;
  mergedIntoId: string | null;
  identities: { id: string; kind: string; address: string; status: 'verified' | 'suggested' }[];
  tickets: { id: string }[];
}

let ctx: TestContext;
let smtp: LocalSmtp;
let graph: ProviderApi;
beforeAll(async () => {
  smtp = await startSmtp();
  graph = await startProviderApi(graphResponder);
  // The cross-channel window is what used to pull the stranger's message onto the victim's ticket.
  ctx = await deliveryContext({ smtp, graph, env: { CROSS_CHANNEL_MERGE_HOURS: '72' } });
});
afterAll(async () => {
  await ctx?.close();
  await smtp?.close();
  await graph?.close();
});

let nextPsid = 7_066_489_083_900_000;
const psid = () => String(++nextPsid);
const customer = async (id: string) => (await client(ctx).get(`/v1/customers/${id}`)).json<CustomerJson>();
const identities = (c: CustomerJson) => c.identities.map((i) => `${i.status} ${i.kind}:${i.address}`).sort();
const confirm = (customerId: string, identityId: string, token?: string) => client(ctx, token).post(`/v1/customers/${customerId}/identities/${identityId}/confirm`, {});

describe('an address typed on Messenger', () => {
  it('does not take over the ticket of the customer who owns it; an agent confirmation links them', async () => {
    const victimAddress = `${unique('victim')}@example.com`;
    const victim = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: `Vera <${victimAddress}>`, subject: 'Refund', text: 'Where is my refund?' })), { created: 1 }));
    const strangerPsid = psid();
    const stranger = onlyTicket(
      webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: strangerPsid, text: `Hi, my address is ${victimAddress}, any news on my refund?`, timestamp: Date.now() }))), { created: 1 }),
    );

    // The stranger got a ticket and a customer of their own.
    expect(stranger.newTicket).toBe(true);
    expect(stranger.ticketId).not.toBe(victim.ticketId);
    const victimCustomerId = (await identitiesOfTicket(ctx, victim.ticketId)).customerId;
    const strangerCustomerId = (await identitiesOfTicket(ctx, stranger.ticketId)).customerId;
    expect(strangerCustomerId).not.toBe(victimCustomerId);
    expect(identities(await customer(victimCustomerId))).toEqual([`verified email:${victimAddress}`]);
    const strangerView = await customer(strangerCustomerId);
    expect(identities(strangerView)).toEqual([`suggested email:${victimAddress}`, expect.stringMatching(/^verified facebook:/)]);
    expect(await eventTypes(ctx, stranger.ticketId)).toContain('identity_suggested');

    // The agent answers the victim: the reply goes to the victim's mailbox, nothing to the stranger.
    const replyId = await postReply(ctx, victim.ticketId, 'Your refund was sent today.');
    expect(await settled(ctx, replyId)).toMatchObject({ state: 'sent', channel: 'email' });
    expect(smtp.accepted.filter((m) => m.envelope.to.includes(victimAddress))).toHaveLength(1);
    expect(graph.requests.filter((r) => (r.json?.recipient as { id?: string } | undefined)?.id?.endsWith(strangerPsid))).toHaveLength(0);

    // An agent who knows better confirms: now they are one customer, as intake used to decide alone.
    const suggestion = strangerView.identities.find((i) => i.status === 'suggested')!;
    const res = await confirm(strangerCustomerId, suggestion.id);
    expect(res.statusCode).toBe(200);
    const linked = res.json<CustomerJson>();
    expect(linked.id).toBe(strangerCustomerId);
    expect(identities(linked)).toEqual([`verified email:${victimAddress}`, expect.stringMatching(/^verified facebook:/)]);
    expect(linked.tickets.map((t) => t.id).sort()).toEqual([victim.ticketId, stranger.ticketId].sort());
    expect((await customer(victimCustomerId)).mergedIntoId).toBe(strangerCustomerId);
    expect(await eventTypes(ctx, victim.ticketId)).toContain('customer_merged');

    // Confirming again changes nothing.
    const again = await confirm(strangerCustomerId, linked.identities.find((i) => i.kind === 'email')!.id);
    expect(again.statusCode).toBe(200);
    expect(identities(again.json<CustomerJson>())).toEqual(identities(linked));
  });

  it('stays a suggestion when nobody holds the address yet, and the owner writing later is not absorbed', async () => {
    const claimed = `${unique('later')}@example.com`;
    const stranger = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: `mail me: ${claimed}`, timestamp: Date.now() }))), { created: 1 }));
    const owner = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: claimed, text: 'My own complaint.' })), { created: 1 }));
    expect(owner.newTicket).toBe(true);
    expect(owner.ticketId).not.toBe(stranger.ticketId);
    const ownerCustomer = await customer((await identitiesOfTicket(ctx, owner.ticketId)).customerId);
    expect(identities(ownerCustomer)).toEqual([`verified email:${claimed}`]);
  });

  it('confirms an address nobody holds into a verified identity; the next e-mail from it joins the customer', async () => {
    const claimed = `${unique('own')}@example.com`;
    const fb = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: `mail me: ${claimed}`, timestamp: Date.now() }))), { created: 1 }));
    const { customerId } = await identitiesOfTicket(ctx, fb.ticketId);
    const suggestion = (await customer(customerId)).identities.find((i) => i.status === 'suggested')!;
    expect((await confirm(customerId, suggestion.id)).statusCode).toBe(200);
    const mail = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: claimed, text: 'Following up by mail.' })), { created: 1 }));
    expect((await identitiesOfTicket(ctx, mail.ticketId)).customerId).toBe(customerId);
    expect(mail).toEqual({ ...fb, newTicket: false });
  });
});

describe('an e-mail Reply-To', () => {
  it('is a suggestion too: the sender is the From address, the Reply-To links nothing', async () => {
    const victimAddress = `${unique('boss')}@example.com`;
    const victim = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: victimAddress, text: 'Invoice is wrong.' })), { created: 1 }));
    const forger = `${unique('forger')}@example.net`;
    const forged = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: forger, text: 'Same invoice.', headers: { 'Reply-To': victimAddress } })), { created: 1 }));
    expect(forged.ticketId).not.toBe(victim.ticketId);
    const forgerCustomer = await customer((await identitiesOfTicket(ctx, forged.ticketId)).customerId);
    expect(identities(forgerCustomer)).toEqual([`suggested email:${victimAddress}`, `verified email:${forger}`]);
  });
});

describe('POST /v1/customers/:id/identities/:identityId/confirm', () => {
  it('answers 404 for an identity of another customer, 403 for an integration key, and 400 naming a bad id', async () => {
    const a = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: `x ${unique('a')}@example.com`, timestamp: Date.now() }))), { created: 1 }));
    const b = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: `${unique('b')}@example.com` })), { created: 1 }));
    const aId = (await identitiesOfTicket(ctx, a.ticketId)).customerId;
    const bId = (await identitiesOfTicket(ctx, b.ticketId)).customerId;
    const suggestion = (await customer(aId)).identities.find((i) => i.status === 'suggested')!;
    expectProblem(await confirm(bId, suggestion.id), 404);
    expectProblem(await confirm(aId, suggestion.id, await tokenFor(ctx, 'integration')), 403);
    expectProblem(await confirm(aId, 'not-a-uuid'), 400, { field: 'path.identityId' });
    expect((await confirm(aId, suggestion.id, await tokenFor(ctx, 'agent'))).statusCode).toBe(200);
  });
});

describe('DELETE /v1/customers/:id/identities/:identityId', () => {
  it('dismisses a suggestion; a verified identity is 409', async () => {
    const fb = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: `not mine: ${unique('x')}@example.com`, timestamp: Date.now() }))), { created: 1 }));
    const { customerId } = await identitiesOfTicket(ctx, fb.ticketId);
    const view = await customer(customerId);
    const suggestion = view.identities.find((i) => i.status === 'suggested')!;
    const verified = view.identities.find((i) => i.status === 'verified')!;
    const res = await client(ctx).delete(`/v1/customers/${customerId}/identities/${suggestion.id}`);
    expect(res.statusCode).toBe(200);
    expect(identities(res.json<CustomerJson>())).toEqual([expect.stringMatching(/^verified facebook:/)]);
    expectProblem(await client(ctx).delete(`/v1/customers/${customerId}/identities/${suggestion.id}`), 404);
    expectProblem(await client(ctx).delete(`/v1/customers/${customerId}/identities/${verified.id}`), 409, { code: 'identity-verified' });
  });
});

describe('POST /v1/customers/:id/merge under concurrency', () => {
  it('merging A into B while B is merged into A: one wins, the other is 409, no cycle', async () => {
    const a = (await identitiesOfTicket(ctx, onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: `${unique('ma')}@example.com` })), { created: 1 })).ticketId)).customerId;
    const b = (await identitiesOfTicket(ctx, onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: `${unique('mb')}@example.com` })), { created: 1 })).ticketId)).customerId;
    const [ab, ba] = await Promise.all([client(ctx).post(`/v1/customers/${a}/merge`, { targetCustomerId: b }), client(ctx).post(`/v1/customers/${b}/merge`, { targetCustomerId: a })]);
    expect([ab.statusCode, ba.statusCode].sort()).toEqual([200, 409]);
    const links = [(await customer(a)).mergedIntoId, (await customer(b)).mergedIntoId];
    expect(links.filter((l) => l !== null)).toHaveLength(1);
  });
});
