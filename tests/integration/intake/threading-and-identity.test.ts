import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventTypes, manualClock, MINUTE, patchTicket, unique, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import {
  CHANNEL_ENV,
  count,
  facebookPayload,
  identitiesOfTicket,
  messengerEvent,
  onlyTicket,
  postEmail,
  postFacebook,
  postTwilio,
  query,
  rawEmail,
  twilioCall,
  webhookResult,
} from '../../helpers/webhooks.js';

/**
 * Which ticket an inbound message joins, and which customer it belongs to: e-mail headers, the
 * [#number] token, conversations, and one customer across channels (CROSS_CHANNEL_MERGE_HOURS).
 */
const HOUR = 60 * MINUTE;
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV, CROSS_CHANNEL_MERGE_HOURS: '72' } });
});
afterAll(async () => ctx?.close());

let nextPsid = 7_066_489_083_500_000;
const psid = () => String(++nextPsid);
const view = async (id: string) => (await client(ctx).get(`/v1/tickets/${id}`)).json<TicketJson>();
const ticketsOf = async (customerId: string) => (await client(ctx).get(`/v1/tickets?customerId=${customerId}`)).json<{ items: TicketJson[] }>().items;
const lastEventData = async (ticketId: string, type: string) => {
  const items = (await client(ctx).get(`/v1/tickets/${ticketId}/events?limit=200`)).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
  return items.filter((e) => e.type === type).at(-1)?.data;
};
/**
 * What an agent does on reading the customer page: confirms the addresses this ticket's customer
 * typed. Typed addresses are only suggestions until then (issue 11: a claim is not proof).
 */
const confirmClaims = async (c: TestContext, ticketId: string) => {
  const { customerId } = await identitiesOfTicket(c, ticketId);
  const claims = await query<{ id: string }>(c, "select id from customer_identities where customer_id = $1 and status = 'suggested' order by created_at", [customerId]);
  expect(claims.length).toBeGreaterThan(0);
  for (const claim of claims) expect((await client(c).post(`/v1/customers/${customerId}/identities/${claim.id}/confirm`, {})).statusCode).toBe(200);
};
const messageChannels = async (ticketId: string) => (await client(ctx).get(`/v1/tickets/${ticketId}/messages`)).json<{ items: { channel: string }[] }>().items.map((m) => m.channel);

describe('one customer, one ticket across channels', () => {
  it('joins an e-mail to the open Facebook ticket of the customer who typed that address on Messenger, once an agent confirmed it', async () => {
    const clock = manualClock(ctx);
    const address = `${unique('anna')}@example.com`;
    const fb = onlyTicket(
      webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: `My order 4471 arrived damaged. Write to me at ${address.replace('anna', 'Anna')}` }))), { created: 1 }),
    );
    const customer = await identitiesOfTicket(ctx, fb.ticketId);
    expect(customer.identities).toEqual([expect.stringMatching(/^facebook:/), `email:${address}`]);
    await confirmClaims(ctx, fb.ticketId);

    clock.advance(2 * HOUR);
    const mail = rawEmail({ from: `Anna K <${address.toUpperCase()}>`, subject: 'Order 4471 – photos', text: 'As promised, here are the photos of the damage.' });
    const joined = onlyTicket(webhookResult(await postEmail(ctx, mail), { created: 1 }));
    expect(joined).toEqual({ ...fb, newTicket: false });

    expect((await identitiesOfTicket(ctx, fb.ticketId)).customerId).toBe(customer.customerId);
    expect(await count(ctx, 'customer_identities where address = $1', [address])).toBe(1);
    const tickets = await ticketsOf(customer.customerId);
    expect(tickets).toHaveLength(1);
    expect(tickets[0]).toMatchObject({ id: fb.ticketId, channel: 'facebook', status: 'new' });
    expect(await messageChannels(fb.ticketId)).toEqual(['facebook', 'email']);
    expect(await lastEventData(fb.ticketId, 'customer_message')).toMatchObject({ channel: 'email', threadedBy: 'cross-channel' });
  });

  it('works the other way round: an e-mail first, then a Messenger message typing the same address (own ticket; confirming merges the customers)', async () => {
    const address = `${unique('piotr')}@example.pl`;
    const mail = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: address, subject: 'Reklamacja', text: 'Zamówienie 55107 nie dotarło.' })), { created: 1 }));
    manualClock(ctx).advance(HOUR);
    const fb = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: `To ja, ${address} — nadal brak odpowiedzi` }))), { created: 1 }));
    expect(fb.newTicket).toBe(true);
    expect((await identitiesOfTicket(ctx, mail.ticketId)).identities).toEqual([`email:${address}`]);
    await confirmClaims(ctx, fb.ticketId);
    expect((await identitiesOfTicket(ctx, mail.ticketId)).identities).toEqual(expect.arrayContaining([`email:${address}`, expect.stringMatching(/^facebook:/)]));
    expect((await identitiesOfTicket(ctx, mail.ticketId)).customerId).toBe((await identitiesOfTicket(ctx, fb.ticketId)).customerId);
  });

  it('joins a call from the phone number typed on Messenger (Israeli local format → E.164)', async () => {
    const fb = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: 'Please call me, my number is 054-765-4321' }))), { created: 1 }));
    expect((await identitiesOfTicket(ctx, fb.ticketId)).identities).toContain('phone:+972547654321');
    await confirmClaims(ctx, fb.ticketId);
    manualClock(ctx).advance(HOUR);
    const call = twilioCall({ CallStatus: 'no-answer', From: '+972547654321' });
    expect((await postTwilio(ctx, call)).statusCode).toBe(200);
    expect(await messageChannels(fb.ticketId)).toEqual(['facebook', 'phone']);
    expect(await lastEventData(fb.ticketId, 'call_missed')).toMatchObject({ threadedBy: 'cross-channel' });
  });

  it('opens a new ticket once the window has passed', async () => {
    const address = `${unique('late')}@example.com`;
    const fb = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: `Broken lamp, mail me: ${address}` }))), { created: 1 }));
    await confirmClaims(ctx, fb.ticketId);
    manualClock(ctx).advance(72 * HOUR + MINUTE);
    const late = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: address, text: 'Any news?' })), { created: 1 }));
    expect(late.newTicket).toBe(true);
    expect(late.ticketId).not.toBe(fb.ticketId);
    expect((await identitiesOfTicket(ctx, late.ticketId)).customerId).toBe((await identitiesOfTicket(ctx, fb.ticketId)).customerId);
  });

  it('does not join a solved ticket, however recent', async () => {
    const address = `${unique('solved')}@example.com`;
    const mail = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: address, subject: 'Late delivery' })), { created: 1 }));
    expect((await patchTicket(ctx, { id: mail.ticketId }, { status: 'solved' })).statusCode).toBe(200);
    manualClock(ctx).advance(MINUTE);
    const fb = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: `New problem, I am ${address}` }))), { created: 1 }));
    expect(fb.newTicket).toBe(true);
    expect(await view(mail.ticketId)).toMatchObject({ status: 'solved', reopenCount: 0 });
    await confirmClaims(ctx, fb.ticketId);
    const { customerId } = await identitiesOfTicket(ctx, mail.ticketId);
    expect((await ticketsOf(customerId)).map((t) => `${t.channel}:${t.status}`).sort()).toEqual(['email:solved', 'facebook:new']);
  });

  describe('with CROSS_CHANNEL_MERGE_HOURS=0', () => {
    let off: TestContext;
    beforeAll(async () => {
      off = await createTestContext({ env: { ...CHANNEL_ENV, CROSS_CHANNEL_MERGE_HOURS: '0' } });
    });
    afterAll(async () => off?.close());

    it('keeps one customer but opens a ticket per channel', async () => {
      const address = 'same.person@example.com';
      const fb = onlyTicket(webhookResult(await postFacebook(off, facebookPayload(messengerEvent({ psid: psid(), text: `Mail me at ${address}` }))), { created: 1 }));
      await confirmClaims(off, fb.ticketId);
      const mail = onlyTicket(webhookResult(await postEmail(off, rawEmail({ from: address })), { created: 1 }));
      expect(mail.newTicket).toBe(true);
      expect((await identitiesOfTicket(off, mail.ticketId)).customerId).toBe((await identitiesOfTicket(off, fb.ticketId)).customerId);
    });
  });
});

describe('e-mail threading', () => {
  it('threads by In-Reply-To, or by References alone, onto the ticket of a stored Message-ID', async () => {
    const from = `${unique('thread')}@example.com`;
    const first = `<${unique('first')}@mail.example.com>`;
    const opened = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from, messageId: first, subject: 'Kettle leaks' })), { created: 1 }));
    const second = `<${unique('second')}@mail.example.com>`;
    expect(onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from, messageId: second, subject: 'Re: Kettle leaks', inReplyTo: first })), { created: 1 }))).toEqual({ ...opened, newTicket: false });
    // Only References, naming an unknown id before the known one: a client that dropped In-Reply-To.
    const third = rawEmail({ from, subject: 'Kettle (again)', references: ['<unknown@elsewhere.example>', second] });
    expect(onlyTicket(webhookResult(await postEmail(ctx, third), { created: 1 }))).toEqual({ ...opened, newTicket: false });
    expect(await lastEventData(opened.ticketId, 'customer_message')).toMatchObject({ threadedBy: 'message-id' });
  });

  it('threads the seeded Polish reply (In-Reply-To/References) onto the complaint it answers', async () => {
    const fixture = (name: string) => readFileSync(new URL(`../../fixtures/email/seeded/${name}`, import.meta.url));
    const complaint = onlyTicket(webhookResult(await postEmail(ctx, fixture('pl-iso-8859-2-attachment.eml')), { created: 1 }));
    manualClock(ctx).advance(HOUR);
    const reply = onlyTicket(webhookResult(await postEmail(ctx, fixture('pl-utf8-threaded-reply.eml')), { created: 1 }));
    expect(reply).toEqual({ ...complaint, newTicket: false });
    const polish = (await client(ctx).get('/v1/tickets?channel=email&language=pl')).json<{ items: TicketJson[] }>().items;
    expect(polish.map((t) => t.id)).toContain(complaint.ticketId);
  });

  it('prefers the strongest evidence when a message names two tickets: Message-ID over [#number]', async () => {
    const from = `${unique('both')}@example.com`;
    const firstId = `<${unique('a')}@mail.example.com>`;
    const a = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from, messageId: firstId, subject: 'Kettle leaks' })), { created: 1 }));
    const b = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from, subject: 'Toaster burns' })), { created: 1 }));
    // Answers A's thread while quoting B's number in the subject: the header wins.
    const mixed = rawEmail({ from, subject: `Re: [#${b.number}] Kettle leaks`, inReplyTo: firstId });
    expect(onlyTicket(webhookResult(await postEmail(ctx, mixed), { created: 1 }))).toEqual({ ...a, newTicket: false });
    expect(await lastEventData(a.ticketId, 'customer_message')).toMatchObject({ threadedBy: 'message-id' });
    // Without the header, the number decides.
    const numbered = rawEmail({ from, subject: `Re: [#${b.number}] Toaster burns` });
    expect(onlyTicket(webhookResult(await postEmail(ctx, numbered), { created: 1 }))).toEqual({ ...b, newTicket: false });
  });

  it('threads by a [#number] subject token only for the sender’s own ticket', async () => {
    const owner = `${unique('owner')}@example.com`;
    const opened = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: owner, subject: 'Refund missing' })), { created: 1 }));
    const token = `Re: [#${opened.number}] Refund missing`;
    expect(onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: owner, subject: token })), { created: 1 }))).toEqual({ ...opened, newTicket: false });
    expect(await lastEventData(opened.ticketId, 'customer_message')).toMatchObject({ threadedBy: 'ticket-number' });

    // A stranger who guesses the number gets a ticket of their own.
    const stranger = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: `${unique('stranger')}@example.com`, subject: token, text: 'Let me in' })), { created: 1 }));
    expect(stranger.newTicket).toBe(true);
    expect(stranger.ticketId).not.toBe(opened.ticketId);
    expect(await count(ctx, 'messages where ticket_id = $1', [opened.ticketId])).toBe(2);
    // A bare "#1234" (an order number, say) is not a ticket token.
    const bare = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: owner, subject: `Order #${opened.number}` })), { created: 1 }));
    expect(bare.newTicket).toBe(true);
  });
});

describe('the ticket lifecycle on inbound messages', () => {
  it('reopens a solved ticket when the customer writes again (reopenCount 1)', async () => {
    const customer = psid();
    const opened = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'Wrong size delivered' }))), { created: 1 }));
    expect((await patchTicket(ctx, { id: opened.ticketId }, { status: 'solved' })).statusCode).toBe(200);
    manualClock(ctx).advance(HOUR);
    expect(onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'Still the wrong size!' }))), { created: 1 }))).toEqual({ ...opened, newTicket: false });
    expect(await view(opened.ticketId)).toMatchObject({ status: 'open', reopenCount: 1, solvedAt: null });
    expect(await lastEventData(opened.ticketId, 'reopened')).toEqual({ from: 'solved', by: 'customer' });
  });

  it('wakes a pending ticket up when the customer answers', async () => {
    const customer = psid();
    const opened = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'Where is my refund?' }))), { created: 1 }));
    expect((await patchTicket(ctx, { id: opened.ticketId }, { status: 'pending' })).statusCode).toBe(200);
    webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'Here is the receipt you asked for' }))), { created: 1 });
    expect(await view(opened.ticketId)).toMatchObject({ status: 'open', reopenCount: 0 });
  });

  it('wakes a pending ticket up when the customer calls, and counts the answered call as the first response', async () => {
    const opened = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text: 'Call me back on 052-333-4444 please' }))), { created: 1 }));
    await confirmClaims(ctx, opened.ticketId);
    expect((await patchTicket(ctx, { id: opened.ticketId }, { status: 'pending' })).statusCode).toBe(200);
    manualClock(ctx).advance(HOUR);
    const call = twilioCall({ CallStatus: 'completed', CallDuration: '180', From: '+972523334444', Timestamp: 'Mon, 05 Jan 2026 12:00:00 +0000' });
    expect((await postTwilio(ctx, call)).statusCode).toBe(200);
    expect(await messageChannels(opened.ticketId)).toEqual(['facebook', 'phone']);
    const ticket = await view(opened.ticketId);
    expect(ticket.firstResponseAt).toBe('2026-01-05T12:00:00.000Z');
    expect(ticket.status).toBe('open');
    expect(await lastEventData(opened.ticketId, 'status_changed')).toEqual({ from: 'pending', to: 'open' });
  });

  it('continues a Messenger conversation on its follow-up ticket once the first one is closed', async () => {
    const customer = psid();
    const opened = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'Scratched table' }))), { created: 1 }));
    expect((await patchTicket(ctx, { id: opened.ticketId }, { status: 'solved' })).statusCode).toBe(200);
    expect((await patchTicket(ctx, { id: opened.ticketId }, { status: 'closed' })).statusCode).toBe(200);
    manualClock(ctx).advance(HOUR);
    const followUp = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'Another scratch appeared' }))), { created: 1 }));
    expect(followUp.newTicket).toBe(true);
    expect(await view(followUp.ticketId)).toMatchObject({ followUpOfId: opened.ticketId, channel: 'facebook' });
    manualClock(ctx).advance(MINUTE);
    expect(onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'Photos attached' }))), { created: 1 }))).toEqual({ ...followUp, newTicket: false });
    expect(await count(ctx, 'tickets where follow_up_of_id = $1', [opened.ticketId])).toBe(1);
  });

  it('opens a follow-up ticket when the customer writes on a closed one', async () => {
    const from = `${unique('closed')}@example.com`;
    const first = `<${unique('c')}@mail.example.com>`;
    const opened = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from, messageId: first })), { created: 1 }));
    expect((await patchTicket(ctx, { id: opened.ticketId }, { status: 'solved' })).statusCode).toBe(200);
    expect((await patchTicket(ctx, { id: opened.ticketId }, { status: 'closed' })).statusCode).toBe(200);
    const followUp = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from, inReplyTo: first, subject: 'Re: A complaint' })), { created: 1 }));
    expect(followUp.newTicket).toBe(true);
    expect(await view(followUp.ticketId)).toMatchObject({ followUpOfId: opened.ticketId, status: 'new', channel: 'email' });
    expect(await view(opened.ticketId)).toMatchObject({ status: 'closed', reopenCount: 0 });
    expect(await lastEventData(followUp.ticketId, 'created')).toMatchObject({ followUpOf: opened.ticketId });
    expect(await eventTypes(ctx, followUp.ticketId)).toEqual(expect.arrayContaining(['created', 'customer_message']));
  });
});
