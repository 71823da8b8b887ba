import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, expectProblem, manualClock, MINUTE, unique, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import {
  CHANNEL_ENV,
  count,
  identitiesOfTicket,
  mailgunFields,
  mailgunSignature,
  messagesWithProviderId,
  onlyTicket,
  postEmail,
  postMailgun,
  query,
  rawEmail,
  webhookResult,
} from '../../helpers/webhooks.js';

/** POST /webhooks/email/mailgun: Mailgun Routes forward(), signed with the webhook signing key (channels.md §3b). */
let ctx: TestContext;
const MAX_AGE_SEC = 9 * 3600; // MAILGUN_SIGNATURE_MAX_AGE_SEC's default
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
});
afterAll(async () => ctx?.close());

/** The parsed-fields shape Mailgun posts: headers as JSON [name, value] pairs, in message order. */
function parsedMail(o: { from: string; subject?: string; text?: string; messageId?: string; headers?: [string, string][] }) {
  const headers: [string, string][] = [
    ['From', o.from],
    ['Subject', o.subject ?? 'Order 4471'],
    ['Date', 'Mon, 05 Jan 2026 08:30:00 +0000'],
    ...(o.messageId ? ([['Message-Id', o.messageId]] as [string, string][]) : []),
    ...(o.headers ?? []),
  ];
  return mailgunFields(ctx, {
    recipient: 'support@desk.example.com',
    sender: o.from.replace(/^.*<|>$/g, ''),
    from: o.from,
    subject: o.subject ?? 'Order 4471',
    'body-plain': o.text ?? 'The parcel never arrived.',
    'message-headers': JSON.stringify(headers),
  });
}

describe('the Mailgun signature', () => {
  it('accepts the documented test vector (key-test-signing) at its own time', async () => {
    const clock = manualClock(ctx);
    const before = clock.now();
    clock.set(new Date(1_718_030_451 * 1000 + 30_000));
    try {
      const fields = {
        ...parsedMail({ from: 'vector@example.com', messageId: `<${unique('mg')}@example.com>` }),
        timestamp: '1718030451',
        token: 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0',
        signature: '226d01ede82a2aba38d52acc5b263393a080f1255f2cfb28f0149e0019e00bce',
      };
      webhookResult(await postMailgun(ctx, fields), { created: 1 });
    } finally {
      clock.set(before);
    }
  });

  it('refuses a wrong, missing, stale or future signature with 401, and stores nothing', async () => {
    const clock = manualClock(ctx);
    const good = parsedMail({ from: 'forger@example.com' });
    const cases: Record<string, string>[] = [
      { ...good, signature: mailgunSignature(good.timestamp!, good.token!, 'another-key') },
      { ...good, signature: good.signature!.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')) },
      { ...good, token: `${good.token!.slice(0, -1)}x` },
      Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'signature')),
      { ...good, signature: good.signature!.toUpperCase().slice(0, 60) },
    ];
    for (const fields of cases) expectProblem(await postMailgun(ctx, fields), 401, { code: 'unauthorized' });

    // Past MAILGUN_SIGNATURE_MAX_AGE_SEC (9 h: Mailgun retries for 8) the signature is stale.
    clock.advance(9 * 60 * MINUTE + MINUTE);
    expectProblem(await postMailgun(ctx, good), 401);
    clock.advance(-(9 * 60 * MINUTE + MINUTE));
    // Signed two minutes in the future: refused too.
    const future = String(Number(good.timestamp) + 120);
    expectProblem(await postMailgun(ctx, { ...good, timestamp: future, signature: mailgunSignature(future, good.token!) }), 401);
    expect(await count(ctx, "customer_identities where address = 'forger@example.com'")).toBe(0);
    expect(await count(ctx, "dead_letters where channel = 'email'")).toBe(0);
  });

  it('refuses a signature replayed with other content (403), creating and storing nothing', async () => {
    // Defect 4: Mailgun signs timestamp + token, not the content, so a captured signature block
    // used to carry any forged mail. Each token is now accepted only with its first content.
    const original = parsedMail({ from: 'victim.mg@example.com', messageId: `<${unique('orig')}@example.com>` });
    webhookResult(await postMailgun(ctx, original), { created: 1 });
    const payloadsBefore = await count(ctx, "inbound_payloads where channel = 'email'");
    const forgeries = [
      { ...original, from: 'attacker.mg@example.com', sender: 'attacker.mg@example.com', 'body-plain': 'Send the refund to my account instead.', 'message-headers': JSON.stringify([['From', 'attacker.mg@example.com']]) },
      { ...original, 'body-plain': 'Cancel everything.' },
      { ...original, 'body-mime': 'From: attacker.mg@example.com\r\n\r\nforged' },
    ];
    for (const forged of forgeries) expectProblem(await postMailgun(ctx, forged), 403, { code: 'signature-replayed', field: 'body.token' });
    // The same with an attachment added (multipart) is other content too.
    expectProblem(await postMailgun(ctx, original, [{ field: 'attachment-1', filename: 'x.pdf', type: 'application/pdf', content: Buffer.from('%PDF-1.4') }]), 403);
    expect(await count(ctx, "customer_identities where address = 'attacker.mg@example.com'")).toBe(0);
    expect(await count(ctx, "inbound_payloads where channel = 'email'")).toBe(payloadsBefore);
    expect(await count(ctx, "dead_letters where channel = 'email' and encode(body, 'escape') like '%attacker%'")).toBe(0);
  });

  it('accepts a redelivery of the same content with the same signature block hours later, and creates nothing twice', async () => {
    // Mailgun retries for 8 hours; its documentation does not say whether a retry is re-signed,
    // and third-party references say it resends the original block: both must work.
    const clock = manualClock(ctx);
    const messageId = `<${unique('redeliver')}@example.com>`;
    const fields = parsedMail({ from: 'redeliver.mg@example.com', messageId });
    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    webhookResult(await postMailgun(ctx, fields, [{ field: 'attachment-1', filename: 'a.png', type: 'image/png', content: png }]), { created: 1 });
    clock.advance(4 * 60 * MINUTE); // Mailgun's last retry comes 7.5 h after the first attempt
    try {
      // Re-encoded (a new multipart boundary): the same content all the same.
      webhookResult(await postMailgun(ctx, fields, [{ field: 'attachment-1', filename: 'a.png', type: 'image/png', content: png }]), { created: 0, duplicates: 1 });
    } finally {
      clock.advance(-4 * 60 * MINUTE);
    }
    expect(await messagesWithProviderId(ctx, 'email', messageId)).toHaveLength(1);
  });

  it('prunes a token only an hour after its signature stopped verifying (the margin)', async () => {
    const clock = manualClock(ctx);
    const start = clock.now();
    const fields = parsedMail({ from: 'prune.mg@example.com', messageId: `<${unique('prune')}@example.com>` });
    webhookResult(await postMailgun(ctx, fields), { created: 1 });
    expect(await count(ctx, 'webhook_tokens where token = $1', [fields.token])).toBe(1);
    const expiry = (Number(fields.timestamp) + MAX_AGE_SEC) * 1000;
    try {
      // Another delivery's claim 59 minutes after the expiry prunes with its own, later receipt
      // time: a request received at the expiry may still be in flight, so the row stays.
      clock.set(new Date(expiry + 59 * MINUTE));
      webhookResult(await postMailgun(ctx, parsedMail({ from: 'prune.mg@example.com', messageId: `<${unique('prune')}@example.com>` })), { created: 1 });
      expect(await count(ctx, 'webhook_tokens where token = $1', [fields.token])).toBe(1);
      clock.set(new Date(expiry + 61 * MINUTE));
      webhookResult(await postMailgun(ctx, parsedMail({ from: 'prune.mg@example.com', messageId: `<${unique('prune')}@example.com>` })), { created: 1 });
      expect(await count(ctx, 'webhook_tokens where token = $1', [fields.token])).toBe(0);
    } finally {
      clock.set(start);
    }
  });

  it('refuses a replay at the very second its signature expires, however long the request takes (defect 3)', async () => {
    // The age was checked against the receipt time while tokens were pruned with a later
    // clock.now(), after the (attacker-sized) form was parsed: a captured signature posted with
    // forged content just before it expired had its original row pruned by its own claim, and
    // the forgery was taken in. Here every read of the clock moves it on by a second, as a slow
    // request would, and the replay arrives exactly at timestamp + MAILGUN_SIGNATURE_MAX_AGE_SEC.
    const clock = manualClock(ctx);
    const start = clock.now();
    const original = parsedMail({ from: 'boundary.mg@example.com', messageId: `<${unique('boundary')}@example.com>` });
    webhookResult(await postMailgun(ctx, original), { created: 1 });
    const forged = { ...original, from: 'attacker.boundary@example.com', sender: 'attacker.boundary@example.com', 'message-headers': JSON.stringify([['From', 'attacker.boundary@example.com']]), 'body-plain': 'Refund to my account.' };
    const read = clock.now.bind(clock);
    try {
      clock.set(new Date((Number(original.timestamp) + MAX_AGE_SEC) * 1000));
      clock.now = () => {
        const t = read();
        clock.advance(1_000);
        return t;
      };
      expectProblem(await postMailgun(ctx, forged), 403, { code: 'signature-replayed' });
    } finally {
      Reflect.deleteProperty(clock, 'now');
      clock.set(start);
    }
    expect(await count(ctx, "customer_identities where address = 'attacker.boundary@example.com'")).toBe(0);
  });

  it('binds a token to the name and media type of each attachment, not only its bytes (defect 9)', async () => {
    const fields = parsedMail({ from: 'names.mg@example.com', messageId: `<${unique('names')}@example.com>` });
    const pdf = Buffer.from('%PDF-1.4 invoice');
    webhookResult(await postMailgun(ctx, fields, [{ field: 'attachment-1', filename: 'invoice.pdf', type: 'application/pdf', content: pdf }]), { created: 1 });
    const replays = [
      { filename: 'invoice.html', type: 'text/html' },
      { filename: 'invoice.pdf', type: 'text/html' },
      { filename: 'x.html', type: 'application/pdf' },
    ];
    for (const r of replays) {
      expectProblem(await postMailgun(ctx, fields, [{ field: 'attachment-1', ...r, content: pdf }]), 403, { code: 'signature-replayed' });
    }
    // The same name, type and bytes (a redelivery, re-encoded) still pass.
    webhookResult(await postMailgun(ctx, fields, [{ field: 'attachment-1', filename: 'invoice.pdf', type: 'application/pdf', content: pdf }]), { created: 0, duplicates: 1 });
  });

  it('claims the token it verified: a second token field further down the form changes nothing', async () => {
    // The signature is checked on the first timestamp/token/signature fields, before the form is
    // parsed; the claim must use those, not a later `token` the full parse would keep.
    const original = parsedMail({ from: 'twotokens.mg@example.com', messageId: `<${unique('two')}@example.com>` });
    webhookResult(await postMailgun(ctx, original), { created: 1 });
    const forged = `${new URLSearchParams({ ...original, 'body-plain': 'Forged.' }).toString()}&token=${'f'.repeat(50)}`;
    const res = await ctx.app.inject({ method: 'POST', url: '/webhooks/email/mailgun', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: forged });
    expectProblem(res, 403, { code: 'signature-replayed' });
    expect(await count(ctx, 'webhook_tokens where token = $1', ['f'.repeat(50)])).toBe(0);
  });

  it('needs no API key: the signature is the authentication', async () => {
    const res = await postMailgun(ctx, parsedMail({ from: 'nokey@example.com' }));
    webhookResult(res, { created: 1 });
  });
});

describe('Mailgun payloads', () => {
  it('turns parsed fields into a ticket with the sender, subject, text and HTML', async () => {
    const messageId = `<${unique('mg')}@mail.example.pl>`;
    const fields: Record<string, string> = {
      ...parsedMail({ from: 'Łukasz Wójcik <lukasz.mg@example.pl>', subject: 'Reklamacja zamówienia 55107', text: 'Dzień dobry, paczka dotarła uszkodzona i nikt nie odpowiada.', messageId }),
      'body-html': '<p>Dzień dobry, paczka dotarła <b>uszkodzona</b>.</p>',
    };
    const ticket = onlyTicket(webhookResult(await postMailgun(ctx, fields), { created: 1 }));
    const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
    expect(view).toMatchObject({ channel: 'email', subject: 'Reklamacja zamówienia 55107', language: 'pl' });
    const [message] = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/messages`)).json<{ items: { body: string; html: string; providerMessageId: string }[] }>().items;
    expect(message).toMatchObject({ body: fields['body-plain'], html: fields['body-html'], providerMessageId: messageId });
    expect((await identitiesOfTicket(ctx, ticket.ticketId)).identities).toEqual(['email:lukasz.mg@example.pl']);
    const [customer] = await query<{ name: string }>(ctx, 'select c.name from customers c join tickets t on t.customer_id = c.id where t.id = $1', [ticket.ticketId]);
    expect(customer!.name).toBe('Łukasz Wójcik');
  });

  it('threads a Mailgun reply onto the ticket a raw e-mail opened (In-Reply-To from message-headers)', async () => {
    const first = `<${unique('raw')}@customer.example>`;
    const opened = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: 'thread.mg@example.com', messageId: first })), { created: 1 }));
    const reply = parsedMail({ from: 'thread.mg@example.com', subject: 'Re: A complaint', messageId: `<${unique('mg')}@customer.example>`, headers: [['In-Reply-To', first]] });
    const threaded = onlyTicket(webhookResult(await postMailgun(ctx, reply), { created: 1 }));
    expect(threaded).toEqual({ ticketId: opened.ticketId, number: opened.number, newTicket: false });
  });

  it('keeps multipart attachments with their bytes', async () => {
    const eml = readFileSync(new URL('../../fixtures/email/seeded/pl-iso-8859-2-attachment.eml', import.meta.url));
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const res = await postMailgun(ctx, parsedMail({ from: 'files@example.com', messageId: `<${unique('mg')}@example.com>` }), [
      { field: 'attachment-1', filename: 'zdjęcie.png', type: 'image/png', content: png },
      { field: 'attachment-2', filename: 'mail.eml', type: 'application/octet-stream', content: eml },
    ]);
    const ticket = onlyTicket(webhookResult(res, { created: 1 }));
    const rows = await query<{ filename: string; content_type: string; size: number; content: Buffer }>(
      ctx,
      'select a.filename, a.content_type, a.size, a.content from attachments a join messages m on m.id = a.message_id where m.ticket_id = $1 order by a.size',
      [ticket.ticketId],
    );
    expect(rows.map((r) => [r.filename, r.content_type, r.size])).toEqual([
      ['zdjęcie.png', 'image/png', png.length],
      ['mail.eml', 'application/octet-stream', eml.length],
    ]);
    expect(rows[0]!.content.equals(png)).toBe(true);
    expect(rows[1]!.content.equals(eml)).toBe(true);
  });

  it('parses body-mime (a route ending in "mime") like a raw e-mail', async () => {
    const mime = readFileSync(new URL('../../fixtures/email/seeded/he-windows-1255-alternative.eml', import.meta.url)).toString('latin1');
    const fields = mailgunFields(ctx, { recipient: 'service@complaint-desk.example', 'body-mime': mime });
    const ticket = onlyTicket(webhookResult(await postMailgun(ctx, fields), { created: 1 }));
    const [stored] = await messagesWithProviderId(ctx, 'email', '<9be41d77.he2@mail.example.co.il>');
    expect(stored).toMatchObject({ ticket_id: ticket.ticketId, language: 'he' });
    expect(stored!.body_text).toContain('אני מנסה להשיג את המוקד כבר שעה');
  });

  it('creates one message when Mailgun retries (new token and signature, same mail)', async () => {
    const messageId = `<${unique('retry')}@example.com>`;
    const first = parsedMail({ from: 'retry.mg@example.com', messageId });
    webhookResult(await postMailgun(ctx, first), { created: 1 });
    manualClock(ctx).advance(10 * MINUTE); // Mailgun's first retry comes 10 minutes later
    const retry = { ...parsedMail({ from: 'retry.mg@example.com', messageId }) };
    expect(retry.token).not.toBe(first.token);
    webhookResult(await postMailgun(ctx, retry), { created: 0, duplicates: 1, duplicatePayload: false });
    expect(await messagesWithProviderId(ctx, 'email', messageId)).toHaveLength(1);

    // Without a Message-ID the key is a digest of the fields minus the signature ones.
    const bare = (f: Record<string, string>) => ({ ...f, 'message-headers': JSON.stringify([['From', 'nomid@example.com']]) });
    webhookResult(await postMailgun(ctx, bare(parsedMail({ from: 'nomid@example.com' }))), { created: 1 });
    webhookResult(await postMailgun(ctx, bare(parsedMail({ from: 'nomid@example.com' }))), { created: 0, duplicates: 1 });
    expect(await count(ctx, "messages m join tickets t on t.id = m.ticket_id join customer_identities i on i.customer_id = t.customer_id where i.address = 'nomid@example.com'")).toBe(1);
  });

  it('opens nothing for an auto-reply (Auto-Submitted in message-headers)', async () => {
    const fields = parsedMail({ from: 'vacation@example.com', subject: 'Out of office', headers: [['Auto-Submitted', 'auto-replied']] });
    webhookResult(await postMailgun(ctx, fields), { created: 0, unthreaded: 1 });
    expect(await count(ctx, "customer_identities i join tickets t on t.customer_id = i.customer_id where i.address = 'vacation@example.com'")).toBe(0);
  });

  it('refuses a form without from/sender or with broken message-headers: 406 naming the field, dead-lettered', async () => {
    // 406, not 400: Mailgun retries every other status for 8 hours, and would post the same
    // refused payload again and again (its documentation: "406 … will not be retried").
    // Each case is its own delivery (its own signature token): a token is bound to one content.
    const good = () => parsedMail({ from: 'broken@example.com' });
    const cases: [Record<string, string>, string][] = [
      [Object.fromEntries(Object.entries(good()).filter(([k]) => k !== 'from')), 'from'],
      [Object.fromEntries(Object.entries(good()).filter(([k]) => k !== 'sender')), 'sender'],
      [{ ...good(), 'message-headers': '{"not":"pairs"}' }, 'message-headers'],
    ];
    for (const [fields, field] of cases) {
      expectProblem(await postMailgun(ctx, fields), 406, { code: 'invalid-payload', field });
      const [letter] = await query<{ reason: string; content_type: string; body: Buffer }>(ctx, "select reason, content_type, body from dead_letters where field = $1 and channel = 'email'", [field]);
      expect(letter!.content_type).toBe('application/x-www-form-urlencoded');
      expect(letter!.reason.length).toBeGreaterThan(0);
      expect(new URLSearchParams(letter!.body.toString()).get('token')).toBe(fields.token);
    }
  });

  it('keeps one dead letter per refused body, counting its deliveries (defect 11)', async () => {
    const clock = manualClock(ctx);
    const fields = Object.fromEntries(Object.entries(parsedMail({ from: 'again@example.com', text: unique('again') })).filter(([k]) => k !== 'sender'));
    for (let i = 0; i < 3; i++) {
      expectProblem(await postMailgun(ctx, fields), 406, { code: 'invalid-payload', field: 'sender' });
      clock.advance(5 * MINUTE);
    }
    clock.advance(-15 * MINUTE);
    const letters = await query<{ deliveries: number; received_at: Date; last_received_at: Date; body: Buffer }>(
      ctx,
      "select deliveries, received_at, last_received_at, body from dead_letters where channel = 'email' and encode(body, 'escape') like $1",
      [`%${fields['body-plain']}%`],
    );
    expect(letters).toHaveLength(1);
    expect(letters[0]!.deliveries).toBe(3);
    expect(letters[0]!.last_received_at.getTime() - letters[0]!.received_at.getTime()).toBe(10 * MINUTE);
  });
});
