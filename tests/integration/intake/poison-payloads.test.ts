import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, manualClock, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import {
  CHANNEL_ENV,
  count,
  facebookPayload,
  messagesWithProviderId,
  messengerEvent,
  onlyTicket,
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
  mailgunFields,
} from '../../helpers/webhooks.js';

/**
 * Poison payloads: signed, well-authenticated input that used to fail inside Postgres, so every
 * provider retry got a 500 and the payload was lost after the last one.
 * Defect 8: a date out of Postgres' range. Defect 9: NUL bytes (a UTF-16 body read as UTF-8)
 * and lone UTF-16 surrogates, which text and jsonb columns refuse.
 * Each must end as a ticket (the value made storable) or as a dead letter (kept, 4xx), never 500.
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
});
afterAll(async () => ctx?.close());

/** JSON as Windows tools write it: UTF-16LE with a byte-order mark. Read as UTF-8, full of NULs. */
const utf16 = (value: unknown) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(value), 'utf16le')]);

async function lastDeadLetter(channel: string) {
  const [row] = await query<{ reason: string; field: string | null; body: Buffer }>(ctx, 'select reason, field, body from dead_letters where channel = $1 order by received_at desc, id desc limit 1', [channel]);
  return row!;
}

describe('an e-mail dated in year 99999 (defect 8)', () => {
  it('is taken in with the receipt time as its date, on the raw and the Mailgun paths', async () => {
    const messageId = `<${unique('y99999')}@legacy.example>`;
    const raw = rawEmail({ from: 'y99999@example.com', messageId }).toString('utf8').replace('Date: Mon, 05 Jan 2026 08:00:00 +0000', 'Date: Mon, 1 Jan 99999 00:00:00 +0000');
    const ticket = onlyTicket(webhookResult(await postEmail(ctx, raw), { created: 1 }));
    const [row] = await query<{ sent_at: Date }>(ctx, 'select sent_at from messages where ticket_id = $1', [ticket.ticketId]);
    expect(row!.sent_at).toEqual(manualClock(ctx).now());

    const mgId = `<${unique('y99999mg')}@legacy.example>`;
    const fields = mailgunFields(ctx, {
      from: 'y99999mg@example.com',
      sender: 'y99999mg@example.com',
      'body-plain': 'dated far ahead',
      'message-headers': JSON.stringify([['Date', 'Sat, 1 Jan 99999 00:00:00 +0000'], ['Message-Id', mgId]]),
    });
    webhookResult(await postMailgun(ctx, fields), { created: 1 });
  });

  it('PBX and X timestamps out of range do not fail either', async () => {
    webhookResult(await postPhoneEvent(ctx, phoneEvent({ at: '9999-12-31T23:59:59Z' })), { created: 1 });
    const dm = twitterDm({ senderId: '77001', text: 'far future' });
    dm.direct_message_events[0]!.created_timestamp = '99999999999999999999';
    webhookResult(await postTwitter(ctx, dm), { created: 1 });
  });
});

describe('NUL bytes and UTF-16 bodies (defect 9)', () => {
  it.each([
    ['facebook', () => postFacebook(ctx, utf16(facebookPayload(messengerEvent({ psid: '9001', text: 'utf16' }))))],
    ['twitter', () => postTwitter(ctx, utf16(twitterDm({ senderId: '9002', text: 'utf16' })))],
    ['phone', () => postPhoneEvent(ctx, utf16(phoneEvent()))],
  ] as const)('a signed UTF-16 JSON body on %s is a 400, kept byte for byte as a dead letter', async (channel, post) => {
    const res = await post();
    expectProblem(res, 400, { code: 'invalid-payload', field: 'body' });
    const letter = await lastDeadLetter(channel);
    expect(letter.body.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xfe]));
    expect(JSON.parse(letter.body.subarray(2).toString('utf16le'))).toBeTypeOf('object'); // the original, byte for byte
    // The error text quotes the body; its NULs are escaped, not dropped, and not stored raw.
    expect(letter.reason).toContain('\\u0000');
    expect(letter.reason).not.toContain('\u0000');
  });

  it('NULs in a raw e-mail (Message-ID, subject, body) are dropped from the text; the raw bytes are kept', async () => {
    const id = unique('nul');
    const raw = Buffer.from(`From: nul@example.com\r\nSubject: bro\u0000ken\r\nMessage-ID: <${id}\u0000@example.com>\r\nDate: Mon, 05 Jan 2026 08:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nline\u0000one\r\n`, 'utf8');
    const first = onlyTicket(webhookResult(await postEmail(ctx, raw), { created: 1 }));
    const [message] = await messagesWithProviderId(ctx, 'email', `<${id}@example.com>`);
    expect(message).toMatchObject({ ticket_id: first.ticketId, body_text: expect.stringContaining('lineone') });
    const [payload] = await query<{ body: Buffer }>(ctx, "select body from inbound_payloads where channel = 'email' and position('\\x00'::bytea in body) > 0 order by received_at desc limit 1");
    expect(payload!.body.equals(raw)).toBe(true);
    // A redelivery finds the same (cleaned) key: nothing twice.
    webhookResult(await postEmail(ctx, raw), { created: 0, duplicatePayload: true });
  });

  it('NULs in Mailgun and Twilio form fields, and in JSON strings, are taken in', async () => {
    webhookResult(await postMailgun(ctx, mailgunFields(ctx, { from: 'mgnul@example.com', sender: 'mgnul@example.com', subject: 'a\u0000b', 'body-plain': 'x\u0000y', recipient: 'sup\u0000port@desk.example.com' })), { created: 1 });
    const call = twilioCall({ CallStatus: 'completed', CallDuration: '12', ForwardedFrom: '+1\u0000555' });
    const res = await postTwilio(ctx, call);
    expect(res.statusCode, res.body).toBe(200);
    const mid = `m_${unique('nul')}\u0000x`;
    webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: '9003', mid, text: 'a\u0000b' }))), { created: 1 });
  });

  it('lone UTF-16 surrogates in provider JSON (which jsonb refuses) are replaced, not a 500', async () => {
    const mid = `m_${unique('sur')}\ud800`;
    const body = JSON.stringify(facebookPayload(messengerEvent({ psid: '9004', mid, text: 'broken \udc00 pair' })));
    expect(body).toContain('\\ud800'); // JSON.stringify escapes it: the wire carries "\ud800"
    webhookResult(await postFacebook(ctx, body), { created: 1 });
    const dm = twitterDm({ senderId: '9005', text: 'x \ud83d y', name: 'Name \udfff' });
    webhookResult(await postTwitter(ctx, dm), { created: 1 });
    webhookResult(await postPhoneEvent(ctx, phoneEvent({ callId: `c-${unique('sur')}\ud800`, transcript: '\udc00' })), { created: 1 });
    expect(await count(ctx, "messages where provider_message_id like 'm\\_%' and body_text like 'broken%pair'")).toBe(1);
  });
});
