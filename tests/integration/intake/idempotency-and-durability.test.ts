import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, manualClock, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import {
  CHANNEL_ENV,
  count,
  facebookPayload,
  mailgunFields,
  messagesWithProviderId,
  messengerEvent,
  phoneEvent,
  postEmail,
  postFacebook,
  postMailgun,
  postPhoneEvent,
  postTwilio,
  postTwitter,
  query,
  rawEmail,
  twilioCall,
  twitterDm,
  webhookResult,
  type WebhookResultJson,
} from '../../helpers/webhooks.js';

/**
 * What a provider's retries and races may not break: one message per provider id, one ticket
 * per conversation, and nothing acknowledged that is not committed (raw payload included).
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV, DATABASE_POOL_MAX: '12' } });
});
afterAll(async () => ctx?.close());

let nextPsid = 7_066_489_083_600_000;
const psid = () => String(++nextPsid);
const results = (responses: { statusCode: number; body: string; json<T>(): T }[]) =>
  responses.map((res) => {
    expect(res.statusCode, res.body).toBe(200);
    return res.json<WebhookResultJson>();
  });
const sum = (list: WebhookResultJson[], key: 'created' | 'duplicates') => list.reduce((n, r) => n + r[key], 0);

describe('duplicate deliveries', () => {
  it('stores a redelivered payload once and creates nothing the second time', async () => {
    const mid = unique('m_dup');
    const body = JSON.stringify(facebookPayload(messengerEvent({ psid: psid(), mid, text: 'Delivered twice' })));
    const first = webhookResult(await postFacebook(ctx, body), { created: 1, duplicatePayload: false });
    const again = webhookResult(await postFacebook(ctx, body), { created: 0, duplicates: 1, duplicatePayload: true, tickets: [] });
    expect(again.received).toBe(1);
    expect(await messagesWithProviderId(ctx, 'facebook', mid)).toEqual([expect.objectContaining({ ticket_id: first.tickets[0]!.ticketId })]);
    expect(await count(ctx, "inbound_payloads where channel = 'facebook' and body = $1", [Buffer.from(body)])).toBe(1);
  });

  it('keeps one message per id across the raw and the Mailgun e-mail routes', async () => {
    const messageId = `<${unique('both')}@example.com>`;
    const raw = rawEmail({ from: 'both.routes@example.com', messageId });
    webhookResult(await postEmail(ctx, raw), { created: 1 });
    webhookResult(await postMailgun(ctx, mailgunFields(ctx, { 'body-mime': raw.toString('utf8') })), { created: 0, duplicates: 1 });
    expect(await messagesWithProviderId(ctx, 'email', messageId)).toHaveLength(1);
  });
});

describe('concurrent deliveries (Promise.all against real Postgres)', () => {
  it('creates exactly one message, ticket and customer from eight identical Facebook deliveries', async () => {
    const customer = psid();
    const mid = unique('m_race');
    const body = JSON.stringify(facebookPayload(messengerEvent({ psid: customer, mid, text: 'Sent once, delivered eight times' })));
    const all = results(await Promise.all(Array.from({ length: 8 }, () => postFacebook(ctx, body))));
    expect(sum(all, 'created')).toBe(1);
    expect(sum(all, 'duplicates')).toBe(7);
    expect(all.filter((r) => r.duplicatePayload)).toHaveLength(7);
    expect(await messagesWithProviderId(ctx, 'facebook', mid)).toHaveLength(1);
    expect(await count(ctx, 'customer_identities where address like $1', [`%:${customer}`])).toBe(1);
    expect(await count(ctx, 'tickets t join customer_identities i on i.customer_id = t.customer_id where i.address like $1', [`%:${customer}`])).toBe(1);
    expect(await count(ctx, "inbound_payloads where channel = 'facebook' and body = $1", [Buffer.from(body)])).toBe(1);
  });

  it('creates one message when the same message arrives concurrently in different envelopes', async () => {
    const mid = unique('m_env');
    const event = messengerEvent({ psid: psid(), mid, text: 'Same message, other envelope' });
    const bodies = [1, 2, 3, 4, 5].map((i) => JSON.stringify({ object: 'page', entry: [{ ...facebookPayload(event).entry[0], time: 1_767_600_000_000 + i }] }));
    const all = results(await Promise.all(bodies.map((b) => postFacebook(ctx, b))));
    expect(sum(all, 'created')).toBe(1);
    expect(sum(all, 'duplicates')).toBe(4);
    expect(await messagesWithProviderId(ctx, 'facebook', mid)).toHaveLength(1);
    expect(await count(ctx, "inbound_payloads where channel = 'facebook' and convert_from(body, 'UTF8') like $1", [`%${mid}%`])).toBe(5);
  });

  it('creates one message for one e-mail racing through the raw route and Mailgun', async () => {
    const messageId = `<${unique('race')}@example.com>`;
    const raw = rawEmail({ from: 'race.routes@example.com', messageId });
    const all = results(
      await Promise.all([postEmail(ctx, raw), postMailgun(ctx, mailgunFields(ctx, { 'body-mime': raw.toString('utf8') })), postEmail(ctx, raw), postMailgun(ctx, mailgunFields(ctx, { 'body-mime': raw.toString('utf8') }))]),
    );
    expect(sum(all, 'created')).toBe(1);
    expect(await messagesWithProviderId(ctx, 'email', messageId)).toHaveLength(1);
  });

  it('creates one message from concurrent Twilio, X and PBX retries', async () => {
    const call = twilioCall({ CallStatus: 'no-answer', From: '+972509876543' });
    const dm = twitterDm({ senderId: '990001', text: 'Race on X' });
    const pbx = phoneEvent({ event: 'missed', from: '+48601999888' });
    const responses = await Promise.all([
      ...Array.from({ length: 4 }, () => postTwilio(ctx, call)),
      ...Array.from({ length: 4 }, () => postTwitter(ctx, dm)),
      ...Array.from({ length: 4 }, () => postPhoneEvent(ctx, pbx)),
    ]);
    for (const res of responses) expect(res.statusCode, res.body).toBe(200);
    expect(await messagesWithProviderId(ctx, 'phone', `call:${call.CallSid}:missed`)).toHaveLength(1);
    expect(await messagesWithProviderId(ctx, 'twitter', `dm:${dm.direct_message_events[0]!.id}`)).toHaveLength(1);
    expect(await messagesWithProviderId(ctx, 'phone', `pbx:${pbx.callId}:missed`)).toHaveLength(1);
  });

  it('makes one customer and one ticket of a new customer’s first messages arriving at once', async () => {
    const customer = psid();
    const bodies = [1, 2, 3, 4].map((i) => facebookPayload(messengerEvent({ psid: customer, text: `Message ${i} of a burst` })));
    const all = results(await Promise.all(bodies.map((b) => postFacebook(ctx, b))));
    expect(sum(all, 'created')).toBe(4);
    expect(await count(ctx, 'customer_identities where address like $1', [`%:${customer}`])).toBe(1);
    expect(new Set(all.map((r) => r.tickets[0]!.ticketId)).size).toBe(1);
  });

  it('does not deadlock when two batches carry the same messages in opposite order', async () => {
    const [a, b] = [messengerEvent({ psid: psid(), text: 'Batch message A' }), messengerEvent({ psid: psid(), text: 'Batch message B' })];
    const responses = await Promise.all([postFacebook(ctx, facebookPayload(a, b)), postFacebook(ctx, facebookPayload(b, a)), postFacebook(ctx, facebookPayload(a, b)), postFacebook(ctx, facebookPayload(b, a))]);
    const all = results(responses);
    expect(sum(all, 'created')).toBe(2);
    expect(sum(all, 'duplicates')).toBe(6);
  });
});

describe('durability: the raw payload and its messages commit together, before the 2xx', () => {
  it('stores the exact bytes, content type, receipt time and outcome of every accepted payload', async () => {
    manualClock(ctx).set('2026-02-01T10:00:00.000Z');
    // Meta escapes non-ASCII as \uXXXX in the signed bytes: stored as sent, not re-encoded.
    const body = Buffer.from(JSON.stringify(facebookPayload(messengerEvent({ psid: psid(), text: 'Zamówienie 55107 — שלום' }))).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
    const result = webhookResult(await postFacebook(ctx, body), { created: 1 });
    const [row] = await query<{ body: Buffer; content_type: string; received_at: Date; outcome: { messages: { result: string; ticketId: string; newTicket: boolean }[]; skipped: unknown[] } }>(
      ctx,
      "select body, content_type, received_at, outcome from inbound_payloads where channel = 'facebook' and body = $1",
      [body],
    );
    expect(row!.body.equals(body)).toBe(true);
    expect(row!.content_type).toBe('application/json');
    expect(row!.received_at.toISOString()).toBe('2026-02-01T10:00:00.000Z');
    expect(row!.outcome).toMatchObject({ messages: [{ result: 'created', ticketId: result.tickets[0]!.ticketId, newTicket: true }], skipped: [] });
    const [message] = await query<{ body_text: string }>(ctx, 'select body_text from messages where ticket_id = $1', [result.tickets[0]!.ticketId]);
    expect(message!.body_text).toBe('Zamówienie 55107 — שלום');
  });

  it('commits nothing, not even the payload or the customer, when any message of it fails (500, so the provider retries)', async () => {
    const poison = `poison-${unique('p')}`;
    // Fault injection in Postgres itself: a trigger that refuses one message body.
    await ctx.deps.pool.query(`
      create or replace function intake_test_poison() returns trigger language plpgsql as $$
      begin if new.body_text like 'poison-%' then raise exception 'injected failure'; end if; return new; end $$;
      create trigger intake_test_poison before insert on messages for each row execute function intake_test_poison();`);
    const good = messengerEvent({ psid: psid(), text: 'A healthy message' });
    const body = JSON.stringify(facebookPayload(good, messengerEvent({ psid: psid(), text: poison })));
    try {
      const res = await postFacebook(ctx, body);
      expect(res.statusCode).toBe(500);
      expect(await messagesWithProviderId(ctx, 'facebook', good.message.mid)).toEqual([]);
      expect(await count(ctx, 'customer_identities where address like $1', [`%:${good.sender.id}`])).toBe(0);
      expect(await count(ctx, "inbound_payloads where channel = 'facebook' and body = $1", [Buffer.from(body)])).toBe(0);
      expect(await count(ctx, 'dead_letters where body = $1', [Buffer.from(body)])).toBe(0);
    } finally {
      await ctx.deps.pool.query('drop trigger intake_test_poison on messages; drop function intake_test_poison()');
    }
    // The provider's retry of the same bytes then goes through whole.
    webhookResult(await postFacebook(ctx, body), { created: 2, duplicatePayload: false });
  });

  it('takes U+0000 in a Message-ID, a filename or a Messenger mid (Postgres text cannot) instead of a 500 on every retry', async () => {
    const mail = Buffer.from(
      [
        'From: nul@example.com',
        'Subject: NUL\u0000 inside',
        'Message-ID: <nul\u0000id@example.com>',
        'Content-Type: multipart/mixed; boundary=b',
        '',
        '--b',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'hello\u0000world',
        '--b',
        'Content-Type: application/pdf',
        "Content-Disposition: attachment; filename*=utf-8''scan%00.pdf",
        '',
        'JVBERi0=',
        '--b--',
        '',
      ].join('\r\n'),
    );
    webhookResult(await postEmail(ctx, mail), { created: 1 });
    webhookResult(await postEmail(ctx, mail), { created: 0, duplicates: 1 });
    const [message] = await messagesWithProviderId(ctx, 'email', '<nulid@example.com>');
    expect(message!.body_text).toBe('helloworld');
    expect(await query(ctx, 'select filename from attachments where message_id = $1', [message!.id])).toEqual([{ filename: 'scan.pdf' }]);

    const mid = `m_nul\u0000${unique('x')}`;
    const echo = { sender: { id: '105320418834911' }, recipient: { id: psid() }, timestamp: 1, message: { is_echo: true, mid: `echo\u0000${mid}`, text: 'ours' } };
    const result = webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), mid, text: 'nul\u0000' }), echo)), { created: 1 });
    expect(result.skipped).toEqual([{ reason: 'echo', ref: `echo${mid.replace('\u0000', '')}` }]);
    expect(await messagesWithProviderId(ctx, 'facebook', mid.replace('\u0000', ''))).toHaveLength(1);
  });

  it('dead-letters malformed payloads of every channel with the reason and field, answering 4xx', async () => {
    const before = new Set((await query<{ id: string }>(ctx, 'select id from dead_letters')).map((r) => r.id));
    expectProblem(await postFacebook(ctx, '{"object":"page","entry":{}}'), 400, { field: 'entry' });
    expectProblem(await postTwitter(ctx, '{"for_user_id":""}'), 400, { field: 'for_user_id' });
    expectProblem(await postTwilio(ctx, { From: '+972501234567' }), 400, { field: 'CallSid' });
    expectProblem(await postPhoneEvent(ctx, { callId: 'x' }), 400, { field: 'event' });
    expectProblem(await postEmail(ctx, readFileSync(new URL('../../fixtures/email/mailparser/mixed.eml', import.meta.url))), 400, { field: 'from' });
    // Mailgun retries every status but 406 for 8 h: its malformed payloads are answered 406.
    expectProblem(await postMailgun(ctx, mailgunFields(ctx, { subject: 'no from' })), 406, { field: 'from' });
    const letters = (await query<{ id: string; channel: string; field: string; reason: string }>(ctx, 'select id, channel, field, reason from dead_letters')).filter((l) => !before.has(l.id));
    expect(letters.map((l) => `${l.channel}:${l.field}`).sort()).toEqual(['email:from', 'email:from', 'facebook:entry', 'phone:CallSid', 'phone:event', 'twitter:for_user_id']);
    for (const l of letters) expect(l.reason.length).toBeGreaterThan(3);
  });

  it('does not dead-letter (or store) what fails authentication', async () => {
    const before = await count(ctx, 'dead_letters');
    const payloads = await count(ctx, 'inbound_payloads');
    expectProblem(await postFacebook(ctx, '{"object":"page","entry":{}}', { signature: 'sha256=00' }), 401);
    expectProblem(await postEmail(ctx, 'not even mail', { token: null }), 401);
    expect(await count(ctx, 'dead_letters')).toBe(before);
    expect(await count(ctx, 'inbound_payloads')).toBe(payloads);
  });
});
