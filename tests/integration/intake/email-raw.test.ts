import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, expectProblem, patchTicket, tokenFor, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, count, identitiesOfTicket, onlyTicket, postEmail, query, rawEmail, resetIntake, webhookResult } from '../../helpers/webhooks.js';

/**
 * POST /webhooks/email: raw RFC 822 from an MTA pipe, authenticated by an integration key.
 * The corpus (tests/fixtures/email, sources and licenses in its README) goes through HTTP into
 * real Postgres, one file at a time on an emptied database so each row stands on its own.
 */
const FIXTURES = new URL('../../fixtures/email/', import.meta.url);
const fixture = (path: string) => readFileSync(new URL(path, FIXTURES));
const corpusFiles = ['chatwoot', 'mailparser', 'seeded'].flatMap((folder) =>
  readdirSync(new URL(`${folder}/`, FIXTURES))
    .filter((name) => name.endsWith('.eml'))
    .map((name) => `${folder}/${name}`),
);

type Expectation =
  | { from: string; text: string; subject?: string; html?: string; attachments?: number; language?: string }
  | { automated: 'auto_reply' | 'bounce' };

const APPLE = { from: 'sony@chatwoot.com', text: "Let's talk about these images:", attachments: 2 } as const;

/** What each corpus file must become: the customer's address, a piece of its decoded text. */
const CORPUS: Record<string, Expectation> = {
  'chatwoot/attachments_without_filename.eml': { from: 'test@gmail.com', text: 'We are excited to inform you that we have recently released', attachments: 2 },
  'chatwoot/attachments_without_text.eml': { from: 'hello@icloud.com', text: '', subject: 'Hello there', attachments: 2 },
  'chatwoot/auto_reply.eml': { automated: 'auto_reply' },
  'chatwoot/auto_reply_with_auto_submitted.eml': { automated: 'auto_reply' },
  'chatwoot/bounced_gmail.eml': { automated: 'bounce' },
  'chatwoot/bounced_with_no_from.eml': { automated: 'bounce' },
  'chatwoot/cid_inline_images_without_disposition.eml': { from: 'sender@example.com', text: 'This is a plain text version of the message.', attachments: 1 },
  'chatwoot/forwarder_email.eml': APPLE,
  // Google Group relay: the member in X-Original-Sender is the customer, not the group.
  'chatwoot/group_sender_support.eml': { ...APPLE, from: 'jane@example.com' },
  'chatwoot/in_reply_to.eml': APPLE,
  'chatwoot/mail_with_inline_images.eml': { from: 'sony@chatwoot.com', text: 'HTML content and inline images', html: 'cid:', attachments: 3 },
  'chatwoot/mail_with_invalid_to.eml': { from: 'mark@planetmars.com', text: 'hey v, can i get some help over here?', subject: 'stranded in mars' },
  'chatwoot/mail_with_invalid_to_2.eml': { from: 'mark@planetmars.com', text: 'hey v, can i get some help over here?' },
  'chatwoot/mail_with_no_date.eml': { from: 'testemail@gmail.com', text: 'text only mail' },
  'chatwoot/mail_with_no_subject.eml': APPLE,
  'chatwoot/mail_with_plain_text_and_inline_image.eml': { from: 'sony@chatwoot.com', text: '[image: poster (8).jpg]', attachments: 3 },
  'chatwoot/mail_with_quote.eml': { from: 'sony@chatwoot.com', text: 'Yes, I am providing you step how to reproduce this issue', subject: 'Re: Checking mail forwarding to cw inbox' },
  'chatwoot/mail_with_references.eml': { from: 'sony@chatwoot.com', text: 'Email with references header' },
  'chatwoot/mail_with_uppercase_from.eml': { ...APPLE, from: 'test@chatwoot.com' },
  'chatwoot/malformed_reply_to.eml': { from: 'sender@example.com', text: 'Regression fixture.' },
  'chatwoot/multiple_attachments.eml': { from: 'test@gmail.com', text: 'Attaching 30 files:', attachments: 30 },
  'chatwoot/multiple_in_reply_to.eml': { from: 'sony@chatwoot.com', text: "Let's talk about these images" },
  'chatwoot/non_utf_encoded_mail.eml': { automated: 'auto_reply' },
  'chatwoot/notification.eml': { from: 'accounts@chatwoot.com', text: 'Time to save the world.' },
  'chatwoot/only_html.eml': { from: 'tejaswini@ex.com', text: 'THIS IS HTML ONLY MAIL', html: '<h1>\nThis is html only mail' },
  'chatwoot/only_text.eml': { from: 'text@example.com', text: 'text only mail' },
  'chatwoot/references-same.eml': { from: 'email@gmail.com', text: 'References Email' },
  'chatwoot/references.eml': { from: 'sony@chatwoot.com', text: 'References Email' },
  'chatwoot/reply.eml': APPLE,
  'chatwoot/reply_cc.eml': { from: 'sony@quicksales.vn', text: 'Find the related inbox.' },
  'chatwoot/reply_mail_without_uuid.eml': APPLE,
  'chatwoot/reply_to.eml': APPLE,
  'chatwoot/reply_uuid_in_cc.eml': { from: 'sony@chatwoot.com', text: "Let's talk about these images:" },
  'chatwoot/support.eml': APPLE,
  'chatwoot/support_1.eml': { from: 'sony@quicksales.vn', text: 'We are providing you platform' },
  'chatwoot/support_in_reply_to.eml': APPLE,
  'chatwoot/support_uppercase.eml': APPLE,
  'chatwoot/support_without_sender_name.eml': APPLE,
  'chatwoot/welcome.eml': APPLE,
  'mailparser/base64encodedroot.eml': { from: 'test@example.com', text: '', attachments: 1 },
  // 8-bit ISO-8859-1: the raw 0xDC byte must come out as "Ü".
  'mailparser/decoderended.eml': { from: 'booewq@uuui.com', text: 'Note: forwarded message attached.', html: 'html sectionÜ', subject: 'Fwd: fotos', attachments: 1 },
  'mailparser/delivery-status.eml': { automated: 'bounce' },
  'mailparser/examples_nodemailer.eml': { from: 'andris@kreata.ee', text: 'Hello to myself!', subject: 'Nodemailer is unicode friendly ✔ (1476358788189)', attachments: 4 },
  'mailparser/examples_simple.eml': { from: 'andris@kreata.ee', text: 'Hello world!', subject: 'test' },
  'mailparser/nested.eml': { from: 'u@example.com', text: 'Dear Sir,' },
  'mailparser/nodemailer.eml': { from: 'andris@kreata.ee', text: 'Hello to myself!', subject: 'Nodemailer is unicode friendly ✔ (1476358788189)', attachments: 4 },
  'mailparser/spam.eml': { from: 'noreply@guide-des-vins-de-bourgogne.fr', text: 'als „asozialer Penner“ beschimpft', language: 'de' },
  'seeded/he-auto-reply.eml': { automated: 'auto_reply' },
  'seeded/he-iso-8859-8-qp.eml': { from: 'dana.cohen@example.co.il', text: 'לפני כחודש קניתי אצלכם מוצר', subject: 'תלונה: זיכוי שלא הגיע', language: 'he' },
  'seeded/he-windows-1255-alternative.eml': { from: 'michal.levi@example.co.il', text: 'אני מנסה להשיג את המוקד כבר שעה', html: '<html dir="rtl">', subject: 'אין מענה במוקד הטלפוני', language: 'he' },
  'seeded/pl-bounce-dsn.eml': { automated: 'bounce' },
  'seeded/pl-iso-8859-2-attachment.eml': { from: 'lukasz.wojcik@example.pl', text: 'złożyłem reklamację zamówienia nr 55107', subject: 'Reklamacja zamówienia 55107 - brak odpowiedzi', attachments: 1, language: 'pl' },
  'seeded/pl-utf8-threaded-reply.eml': { from: 'lukasz.wojcik@example.pl', text: 'Dziękuję za odpowiedź, ale kwota zwrotu jest niższa', language: 'pl' },
};
/** Headerless apart from Content-Type: nobody to attribute it to. */
const UNUSABLE = 'mailparser/mixed.eml';

let ctx: TestContext;
beforeAll(async () => {
  // Small limits so 413 is cheap to reach; e-mail keeps a larger one than the JSON webhooks.
  ctx = await createTestContext({ env: { ...CHANNEL_ENV, BODY_LIMIT_BYTES: '65536', EMAIL_BODY_LIMIT_BYTES: '300000' } });
});
afterAll(async () => ctx?.close());

interface StoredMessage {
  ticket_id: string;
  body_text: string;
  body_html: string | null;
  subject: string | null;
  language: string | null;
  automated: string | null;
  author_kind: string;
  kind: string;
}
const storedMessages = (providerMessageId?: string) =>
  query<StoredMessage>(
    ctx,
    `select ticket_id, body_text, body_html, subject, language, automated, author_kind, kind from messages ${providerMessageId ? 'where provider_message_id = $1' : ''}`,
    providerMessageId ? [providerMessageId] : [],
  );

describe('the e-mail corpus over HTTP', () => {
  it('has an expectation for every corpus file', () => {
    expect(corpusFiles).toHaveLength(54);
    expect(corpusFiles.filter((f) => f !== UNUSABLE && !(f in CORPUS))).toEqual([]);
  });

  it.each(corpusFiles.filter((f) => f !== UNUSABLE))('%s', async (file) => {
    await resetIntake(ctx);
    const bytes = fixture(file);
    const expected = CORPUS[file]!;
    const res = await postEmail(ctx, bytes);

    // The raw bytes are kept whatever became of them, with the outcome.
    const [payload] = await query<{ body: Buffer; content_type: string; sha256: string; outcome: { messages: { result: string; reason?: string }[] } }>(
      ctx,
      "select body, content_type, sha256, outcome from inbound_payloads where channel = 'email'",
    );
    expect(payload!.body.equals(bytes)).toBe(true);
    expect(payload!.content_type).toBe('message/rfc822');
    expect(payload!.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));

    if ('automated' in expected) {
      // Auto-replies and bounces with no ticket to attach to open nothing.
      webhookResult(res, { received: 1, created: 0, unthreaded: 1, tickets: [] });
      expect(payload!.outcome.messages).toEqual([expect.objectContaining({ result: 'stored-unthreaded', reason: expected.automated })]);
      expect(await count(ctx, 'tickets')).toBe(0);
      expect(await count(ctx, 'messages')).toBe(0);
      // …nor a customer: a mailer daemon or an out-of-office is nobody to keep on file.
      expect(await count(ctx, 'customers')).toBe(0);
      return;
    }

    const ticket = onlyTicket(webhookResult(res, { received: 1, created: 1, duplicates: 0, unthreaded: 0, duplicatePayload: false }));
    expect(ticket.newTicket).toBe(true);
    expect(payload!.outcome.messages).toEqual([expect.objectContaining({ result: 'created' })]);
    const [message, ...others] = await storedMessages();
    expect(others).toEqual([]);
    expect(message).toMatchObject({ ticket_id: ticket.ticketId, author_kind: 'customer', kind: 'message', automated: null });
    expect(message!.body_text).toContain(expected.text);
    expect(`${message!.subject ?? ''}${message!.body_text}`).not.toContain('\uFFFD');
    if (expected.html) expect(message!.body_html).toContain(expected.html);
    if (expected.language) expect(message!.language).toBe(expected.language);
    if (expected.subject) {
      expect(message!.subject).toBe(expected.subject);
      const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
      expect(view.subject).toBe(expected.subject);
    }
    expect((await identitiesOfTicket(ctx, ticket.ticketId)).identities).toContain(`email:${expected.from}`);

    const attachments = await query<{ size: number; bytes: number }>(ctx, 'select size, octet_length(content)::int as bytes from attachments');
    expect(attachments).toHaveLength(expected.attachments ?? 0);
    for (const a of attachments) expect(a.bytes).toBe(a.size);
  });

  it(`refuses ${UNUSABLE} (no From) with a 400 naming 'from', and dead-letters it`, async () => {
    await resetIntake(ctx);
    const bytes = fixture(UNUSABLE);
    const problem = expectProblem(await postEmail(ctx, bytes), 400, { code: 'invalid-payload', field: 'from' });
    expect(problem.detail).toMatch(/from/i);
    const letters = await query<{ channel: string; field: string; reason: string; body: Buffer; content_type: string }>(ctx, 'select channel, field, reason, body, content_type from dead_letters');
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ channel: 'email', field: 'from', content_type: 'message/rfc822', reason: expect.stringMatching(/From/) });
    expect(letters[0]!.body.equals(bytes)).toBe(true);
    expect(await count(ctx, 'inbound_payloads')).toBe(0);
    expect(await count(ctx, 'tickets')).toBe(0);
  });
});

describe('charsets, right-to-left text and attachments', () => {
  it('keeps Hebrew from ISO-8859-8 quoted-printable exactly, and returns it untouched through the API', async () => {
    await resetIntake(ctx);
    const ticket = onlyTicket(webhookResult(await postEmail(ctx, fixture('seeded/he-iso-8859-8-qp.eml'))));
    const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
    expect(view).toMatchObject({ channel: 'email', language: 'he', subject: 'תלונה: זיכוי שלא הגיע', status: 'new' });
    const [message] = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/messages`)).json<{ items: { body: string; language: string }[] }>().items;
    // The whole body, decoded independently of the app: undo quoted-printable, then ISO-8859-8.
    const qp = fixture('seeded/he-iso-8859-8-qp.eml').toString('latin1').split('\n\n').slice(1).join('\n\n');
    const bytes = Buffer.from(qp.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
    expect(message!.body.trim()).toBe(new TextDecoder('iso-8859-8').decode(bytes).trim());
    expect(message!.body).toContain('050-1234567');
    expect(message!.language).toBe('he');
    const { identities } = await identitiesOfTicket(ctx, ticket.ticketId);
    expect(identities).toEqual(['email:dana.cohen@example.co.il']);
    const [customer] = await query<{ name: string; language: string }>(ctx, 'select name, language from customers');
    expect(customer).toEqual({ name: 'דנה כהן', language: 'he' });
  });

  it('keeps the Polish PDF attachment: a row with the exact bytes, its RFC 2231 filename and checksum', async () => {
    await resetIntake(ctx);
    const ticket = onlyTicket(webhookResult(await postEmail(ctx, fixture('seeded/pl-iso-8859-2-attachment.eml'))));
    const [row] = await query<{ filename: string; content_type: string; size: number; checksum: string; content: Buffer; storage_path: string | null }>(
      ctx,
      'select a.filename, a.content_type, a.size, a.checksum, a.content, a.storage_path from attachments a join messages m on m.id = a.message_id where m.ticket_id = $1',
      [ticket.ticketId],
    );
    expect(row).toMatchObject({ filename: 'reklamacja_zdjęcie_uszkodzenia.pdf', content_type: 'application/pdf', storage_path: null });
    expect(row!.content.subarray(0, 8).toString('latin1')).toBe('%PDF-1.4');
    expect(row!.size).toBe(row!.content.length);
    expect(row!.checksum).toBe(createHash('sha256').update(row!.content).digest('hex'));
    const [message] = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/messages`)).json<{ items: { attachments: { filename: string; size: number }[] }[] }>().items;
    expect(message!.attachments).toEqual([expect.objectContaining({ filename: 'reklamacja_zdjęcie_uszkodzenia.pdf', size: row!.size })]);
  });

  it('stores right-to-left HTML as it came (windows-1255 alternative)', async () => {
    await resetIntake(ctx);
    const ticket = onlyTicket(webhookResult(await postEmail(ctx, fixture('seeded/he-windows-1255-alternative.eml'))));
    const [message] = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/messages`)).json<{ items: { html: string; body: string }[] }>().items;
    expect(message!.html).toMatch(/^<html dir="rtl"><body><p>היי,<\/p>/);
    expect(message!.body.startsWith('היי,\nאני מנסה')).toBe(true);
  });
});

describe('auto-replies and bounces', () => {
  it('stores an auto-reply on a solved ticket it names, without reopening it', async () => {
    await resetIntake(ctx);
    // The seeded auto-reply names ticket [#1043]: make Dana's complaint that ticket.
    await ctx.deps.pool.query('alter table tickets alter column number restart with 1043');
    const ticket = onlyTicket(webhookResult(await postEmail(ctx, fixture('seeded/he-iso-8859-8-qp.eml'))));
    expect(ticket.number).toBe(1043);
    expect((await patchTicket(ctx, { id: ticket.ticketId }, { status: 'solved' })).statusCode).toBe(200);

    const result = webhookResult(await postEmail(ctx, fixture('seeded/he-auto-reply.eml')), { created: 1, unthreaded: 0 });
    expect(result.tickets).toEqual([{ ticketId: ticket.ticketId, number: 1043, newTicket: false }]);
    const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
    expect(view).toMatchObject({ status: 'solved', reopenCount: 0 });
    const [stored] = await storedMessages('<auto.77.he@mail.example.co.il>');
    expect(stored).toMatchObject({ automated: 'auto_reply', author_kind: 'system' });
    const events = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/events`)).json<{ items: { type: string; data: Record<string, unknown> }[] }>().items;
    expect(events.map((e) => e.type)).not.toContain('reopened');
    expect(events.at(-1)).toMatchObject({ type: 'automated_message', data: { automated: 'auto_reply', threadedBy: 'ticket-number' } });
  });

  it('opens nothing for a bounce or an auto-reply about nothing we know', async () => {
    await resetIntake(ctx);
    for (const file of ['seeded/pl-bounce-dsn.eml', 'chatwoot/bounced_gmail.eml', 'chatwoot/auto_reply.eml']) {
      webhookResult(await postEmail(ctx, fixture(file)), { created: 0, unthreaded: 1 });
    }
    // A header-built auto-reply (RFC 3834 Auto-Submitted) from an address we have never seen.
    webhookResult(await postEmail(ctx, rawEmail({ from: 'ooo@example.com', subject: 'Out of office', headers: { 'Auto-Submitted': 'auto-replied' } })), { created: 0, unthreaded: 1 });
    expect(await count(ctx, 'tickets')).toBe(0);
    expect(await count(ctx, 'messages')).toBe(0);
    expect(await count(ctx, 'customers')).toBe(0);
    expect(await count(ctx, 'inbound_payloads')).toBe(4);
  });
});

describe('authentication, media type and size', () => {
  it('needs an integration (or admin) key: 401 without one, 403 for an agent key', async () => {
    const raw = rawEmail({ from: 'auth@example.com' });
    expectProblem(await postEmail(ctx, raw, { token: null }), 401, { code: 'unauthorized' });
    expectProblem(await postEmail(ctx, raw, { token: await tokenFor(ctx, 'agent') }), 403, { code: 'forbidden' });
    webhookResult(await postEmail(ctx, raw, { token: ctx.adminToken }), { created: 1 });
    expect(await count(ctx, "inbound_payloads where channel = 'email' and body = $1", [raw])).toBe(1);
  });

  it('answers 415 to a media type it does not take, and 400 to an empty body', async () => {
    const res = await postEmail(ctx, rawEmail({ from: 'type@example.com' }), { contentType: 'application/xml' });
    expectProblem(res, 415, { code: 'unsupported-media-type' });
    expectProblem(await postEmail(ctx, Buffer.alloc(0)), 400, { field: 'body' });
  });

  it('takes a mail larger than the JSON webhook limit, and answers 413 past its own', async () => {
    const big = rawEmail({ from: 'big@example.com', text: 'x'.repeat(76).concat('\r\n').repeat(1300) }); // ~100 KB
    expect(big.length).toBeGreaterThan(65_536);
    webhookResult(await postEmail(ctx, big), { created: 1 });
    const huge = rawEmail({ from: 'huge@example.com', text: 'y'.repeat(76).concat('\r\n').repeat(4000) }); // ~310 KB
    expectProblem(await postEmail(ctx, huge), 413, { code: 'payload-too-large' });
    expect(await count(ctx, "inbound_payloads where body = $1", [huge])).toBe(0);
  });
});
