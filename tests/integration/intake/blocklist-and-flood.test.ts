import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, manualClock, MINUTE, patchTicket, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, count, facebookPayload, messengerEvent, onlyTicket, PAGE_ID, postEmail, postFacebook, postTwilio, query, rawEmail, twilioCall, webhookResult } from '../../helpers/webhooks.js';

/**
 * Abuse controls at intake (issue 11): a blocked sender's messages are kept as raw payloads
 * but open nothing; a flood from one sender becomes a few tickets with a count, not hundreds.
 */
const FLOOD_MAX = 3;
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV, INTAKE_FLOOD_MAX_PER_HOUR: String(FLOOD_MAX), DEFAULT_PHONE_REGION: 'IL' } });
});
afterAll(async () => ctx?.close());

interface EntryJson {
  id: string;
  kind: string;
  value: string;
  blockedCount: number;
  lastBlockedAt: string | null;
}
const block = async (kind: string, value: string) => {
  const res = await client(ctx).post('/v1/blocklist', { kind, value, reason: 'abuse' });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<EntryJson>();
};
const entry = async (id: string) => {
  const items = (await client(ctx).get('/v1/blocklist?limit=200')).json<{ items: EntryJson[] }>().items;
  return items.find((e) => e.id === id)!;
};
const ticketsFrom = (address: string) => count(ctx, "tickets t join customer_identities i on i.customer_id = t.customer_id where i.kind = 'email' and i.address = $1", [address]);
const lastPayloadOutcome = async (channel: string) =>
  (await query<{ outcome: { messages: Record<string, unknown>[] } }>(ctx, 'select outcome from inbound_payloads where channel = $1 order by received_at desc, id desc limit 1', [channel]))[0]!.outcome.messages;

describe('the blocklist at intake', () => {
  it('keeps a blocked sender’s mail as a payload marked "blocked", opens no ticket, creates no customer, and counts it on the entry', async () => {
    const spammer = `${unique('spam')}@example.com`;
    const listed = await block('email', spammer.toUpperCase());
    expect(listed.value).toBe(spammer);
    const mail = rawEmail({ from: spammer, subject: 'Buy now' });
    const result = webhookResult(await postEmail(ctx, mail), { received: 1, created: 0 });
    expect(result.tickets).toEqual([]);
    expect(await lastPayloadOutcome('email')).toEqual([expect.objectContaining({ result: 'blocked', blocklistEntryId: listed.id, blockedBy: `email:${spammer}` })]);
    expect(await count(ctx, 'customer_identities where address = $1', [spammer])).toBe(0);
    expect(await count(ctx, 'messages where sender_address = $1', [spammer])).toBe(0);
    const counted = await entry(listed.id);
    expect(counted.blockedCount).toBe(1);
    expect(counted.lastBlockedAt).not.toBeNull();
    // The provider redelivers the same payload: kept once, counted once.
    webhookResult(await postEmail(ctx, mail), { created: 0, duplicatePayload: true });
    expect((await entry(listed.id)).blockedCount).toBe(1);
  });

  it('blocks a whole e-mail domain, subdomains included, and nothing else', async () => {
    const domain = `${unique('junk')}.example`;
    const listed = await block('domain', `@${domain.toUpperCase()}`);
    expect(listed.value).toBe(domain);
    webhookResult(await postEmail(ctx, rawEmail({ from: `a@${domain}` })), { created: 0 });
    webhookResult(await postEmail(ctx, rawEmail({ from: `b@mail.${domain}` })), { created: 0 });
    webhookResult(await postEmail(ctx, rawEmail({ from: `c@not${domain}` })), { created: 1 });
    expect((await entry(listed.id)).blockedCount).toBe(2);
  });

  it('counts a message on the most specific entry: the address before its domain, a subdomain before its parent', async () => {
    const domain = `${unique('nested')}.example`;
    const parent = await block('domain', domain);
    const child = await block('domain', `mail.${domain}`);
    const address = await block('email', `x@mail.${domain}`);
    webhookResult(await postEmail(ctx, rawEmail({ from: `x@mail.${domain}` })), { created: 0 });
    webhookResult(await postEmail(ctx, rawEmail({ from: `y@mail.${domain}` })), { created: 0 });
    webhookResult(await postEmail(ctx, rawEmail({ from: `z@${domain}` })), { created: 0 });
    expect([(await entry(address.id)).blockedCount, (await entry(child.id)).blockedCount, (await entry(parent.id)).blockedCount]).toEqual([1, 1, 1]);
  });

  it('blocks a phone number typed in local format, and a Messenger sender', async () => {
    const phone = await block('phone', '052-999-1234');
    expect(phone.value).toBe('+972529991234');
    expect((await postTwilio(ctx, twilioCall({ CallStatus: 'no-answer', From: '+972529991234' }))).statusCode).toBe(200);
    expect(await count(ctx, "messages where sender_kind = 'phone' and sender_address = '+972529991234'")).toBe(0);
    expect((await entry(phone.id)).blockedCount).toBe(1);

    const psid = String(7_066_489_083_990_000 + Math.floor(Math.random() * 1000));
    const fb = await block('facebook', `${PAGE_ID}:${psid}`);
    webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid, text: 'spam spam' }))), { received: 1, created: 0 });
    expect((await entry(fb.id)).blockedCount).toBe(1);
  });

  it('blocks every spelling of a blocked domain: trailing dot, punycode (mailparser decodes it), NFD, and plus-addressed mail', async () => {
    const label = unique('dot');
    const dotted = await block('domain', `${label}.example.`);
    expect(dotted.value).toBe(`${label}.example`);
    webhookResult(await postEmail(ctx, rawEmail({ from: `spam@${label}.example.` })), { created: 0 });
    webhookResult(await postEmail(ctx, rawEmail({ from: `spam@${label}.example` })), { created: 0 });
    expect((await entry(dotted.id)).blockedCount).toBe(2);

    // "bücher" in punycode: the entry typed in ASCII form blocks mail the parser hands over in Unicode.
    const idn = `xn--bcher-kva.${unique('idn')}.example`;
    const puny = await block('domain', idn);
    webhookResult(await postEmail(ctx, rawEmail({ from: `x@${idn}` })), { created: 0 });
    webhookResult(await postEmail(ctx, rawEmail({ from: `y@${idn.replace('xn--bcher-kva', 'bu\u0308cher')}` })), { created: 0 });
    expect((await entry(puny.id)).blockedCount).toBe(2);

    const user = `${unique('plus')}@example.com`;
    const address = await block('email', user);
    webhookResult(await postEmail(ctx, rawEmail({ from: user.replace('@', '+promo@') })), { created: 0 });
    expect((await entry(address.id)).blockedCount).toBe(1);
  });

  it('blocks every caller without a usable number with the phone entry "anonymous" (each such call is its own identity)', async () => {
    const anonymous = await block('phone', 'Anonymous');
    expect(anonymous.value).toBe('anonymous');
    for (const from of ['anonymous', '+266696687', 'client:alice']) {
      expect((await postTwilio(ctx, twilioCall({ CallStatus: 'no-answer', From: from }))).statusCode).toBe(200);
    }
    expect(await count(ctx, "messages where sender_kind = 'phone' and sender_address like 'anonymous:%'")).toBe(0);
    expect((await entry(anonymous.id)).blockedCount).toBe(3);
    expect((await client(ctx).delete(`/v1/blocklist/${anonymous.id}`)).statusCode).toBe(204);
  });

  it('takes the sender in again once the entry is deleted', async () => {
    const sender = `${unique('sorry')}@example.com`;
    const listed = await block('email', sender);
    webhookResult(await postEmail(ctx, rawEmail({ from: sender })), { created: 0 });
    expect((await client(ctx).delete(`/v1/blocklist/${listed.id}`)).statusCode).toBe(204);
    webhookResult(await postEmail(ctx, rawEmail({ from: sender })), { created: 1 });
  });
});

describe('flood control', () => {
  it(`opens at most ${FLOOD_MAX} tickets an hour for one sender; the rest join the latest open ticket, counted by "flood" events`, async () => {
    const flooder = `${unique('flood')}@example.com`;
    const results = [];
    for (let i = 0; i < 10; i++) results.push(onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: flooder, subject: `Complaint number ${i}` })), { created: 1 })));
    expect(results.filter((r) => r.newTicket)).toHaveLength(FLOOD_MAX);
    const last = results[FLOOD_MAX - 1]!;
    expect(results.slice(FLOOD_MAX).every((r) => r.ticketId === last.ticketId && !r.newTicket)).toBe(true);
    expect(await ticketsFrom(flooder)).toBe(FLOOD_MAX);
    // Every message is kept.
    expect(await count(ctx, 'messages where sender_address = $1', [flooder])).toBe(10);
    const events = (await client(ctx).get(`/v1/tickets/${last.ticketId}/events?limit=200`)).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
    const floods = events.filter((e) => e.type === 'flood');
    expect(floods.map((e) => e.data.count)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(floods[0]!.data).toMatchObject({ sender: `email:${flooder}`, maxPerHour: FLOOD_MAX });
    expect(events.filter((e) => e.type === 'customer_message').at(-1)!.data).toMatchObject({ threadedBy: 'flood' });

    // An hour later the sender may open tickets again.
    manualClock(ctx).advance(61 * MINUTE);
    expect(onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: flooder, subject: 'A new problem' })), { created: 1 })).newTicket).toBe(true);
  });

  it('opens one ticket when the flooder has none open, and the next messages join it', async () => {
    const flooder = `${unique('closed')}@example.com`;
    const opened = [];
    for (let i = 0; i < FLOOD_MAX; i++) opened.push(onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: flooder, subject: `Issue ${i}` })), { created: 1 })));
    for (const t of opened) expect((await patchTicket(ctx, { id: t.ticketId }, { status: 'solved' })).statusCode).toBe(200);
    const fresh = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: flooder, subject: 'Issue again' })), { created: 1 }));
    expect(fresh.newTicket).toBe(true);
    const joined = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: flooder, subject: 'Issue once more' })), { created: 1 }));
    expect(joined).toEqual({ ...fresh, newTicket: false });
  });

  it('limits follow-ups too: replies naming a closed ticket ("[#N]", In-Reply-To) open at most the limit, then join the latest follow-up', async () => {
    const flooder = `${unique('followup')}@example.com`;
    const messageId = `<${unique('first')}@customer.example>`;
    const first = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: flooder, subject: 'first', messageId })), { created: 1 }));
    await query(ctx, "update tickets set status = 'closed', closed_at = now() where id = $1", [first.ticketId]);
    const results = [];
    for (let i = 0; i < 10; i++) {
      // Half name the ticket in the subject, half answer its first mail's Message-ID.
      const mail = i % 2 === 0 ? rawEmail({ from: flooder, subject: `Re: [#${first.number}] again ${i}` }) : rawEmail({ from: flooder, subject: `Re: again ${i}`, inReplyTo: messageId });
      results.push(onlyTicket(webhookResult(await postEmail(ctx, mail), { created: 1 })));
    }
    expect(await ticketsFrom(flooder)).toBe(FLOOD_MAX);
    expect(results.filter((r) => r.newTicket)).toHaveLength(FLOOD_MAX - 1);
    const lastFollowUp = results[FLOOD_MAX - 2]!;
    expect(results.slice(FLOOD_MAX - 1).every((r) => r.ticketId === lastFollowUp.ticketId && !r.newTicket)).toBe(true);
    expect(await count(ctx, 'tickets where follow_up_of_id = $1', [first.ticketId])).toBe(FLOOD_MAX - 1);
    const floods = await query<{ data: { count: number } }>(ctx, "select data from ticket_events where ticket_id = $1 and type = 'flood' order by id", [lastFollowUp.ticketId]);
    expect(floods.map((e) => e.data.count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await count(ctx, 'messages where sender_address = $1', [flooder])).toBe(11);
  });

  it('limits a claimed sender (no usable first From) by the address it claims, though each of its tickets has a new customer', async () => {
    const claimed = `${unique('claimed')}@example.com`;
    const results = [];
    for (let i = 0; i < 8; i++) results.push(onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: 'Outlook Express', subject: `Legacy ${i}`, headers: { 'Reply-To': claimed } })), { created: 1 })));
    expect(results.filter((r) => r.newTicket)).toHaveLength(FLOOD_MAX);
    expect(new Set(results.map((r) => r.ticketId)).size).toBe(FLOOD_MAX);
    expect(await count(ctx, "customer_identities where address = $1 and status = 'suggested'", [claimed])).toBe(FLOOD_MAX);
    // Nobody verified holds the address: the claims were not a way into anyone's ticket.
    expect(await count(ctx, "customer_identities where address = $1 and status = 'verified'", [claimed])).toBe(0);
  });

  it('holds under concurrent deliveries: 25 at once from one new sender open exactly the limit', async () => {
    const flooder = `${unique('burst')}@example.com`;
    const responses = await Promise.all(Array.from({ length: 25 }, (_, i) => postEmail(ctx, rawEmail({ from: flooder, subject: `Burst ${i}` }))));
    for (const res of responses) expect(res.statusCode, res.body).toBe(200);
    expect(await ticketsFrom(flooder)).toBe(FLOOD_MAX);
    expect(await count(ctx, 'messages where sender_address = $1', [flooder])).toBe(25);
  });
});
