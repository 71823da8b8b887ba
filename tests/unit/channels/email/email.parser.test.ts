import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../../../src/channels/channel.errors.js';
import { htmlToText, parseEmail } from '../../../../src/channels/email/email.parser.js';
import { fixture, RECEIVED_AT } from './fixtures.js';

const parse = (file: string) => parseEmail(fixture(file), { receivedAt: RECEIVED_AT });
const parseRaw = (raw: string) => parseEmail(Buffer.from(raw, 'latin1'), { receivedAt: RECEIVED_AT });

describe('charsets', () => {
  it('decodes ISO-8859-8 quoted-printable Hebrew, right-to-left text untouched', async () => {
    const msg = await parse('seeded/he-iso-8859-8-qp.eml');
    expect(msg.subject).toBe('תלונה: זיכוי שלא הגיע');
    expect(msg.text).toContain('לפני כחודש קניתי אצלכם מוצר שתכולתו לא תאמה את הרישום על גבי האריזה.');
    expect(msg.text).toContain('הובטח לי שזיכוי יישלח בדואר, והוא עדיין לא הגיע.');
    expect(msg.sender).toEqual({ kind: 'email', address: 'dana.cohen@example.co.il', displayName: 'דנה כהן' });
    expect(msg.automated).toBeUndefined();
  });

  it('decodes windows-1255 Hebrew text and HTML', async () => {
    const msg = await parse('seeded/he-windows-1255-alternative.eml');
    expect(msg.subject).toBe('אין מענה במוקד הטלפוני');
    expect(msg.text).toContain('אני מנסה להשיג את המוקד כבר שעה וכל מה שאני שומעת זה הקלטה על עומסים.');
    expect(msg.html).toContain('<html dir="rtl">');
    expect(msg.html).toContain('<b>הקלטה על עומסים</b>');
  });

  it('decodes ISO-8859-8-I, the logical-order label some Israeli clients send', async () => {
    const raw = [
      'From: a@example.co.il',
      'Subject: =?ISO-8859-8-I?B?+ezl7SDy5ezt?=',
      'Content-Type: text/plain; charset=iso-8859-8-i',
      'Content-Transfer-Encoding: base64',
      '',
      '+ezl7SDy5ezt',
      '',
    ].join('\r\n');
    const msg = await parseRaw(raw);
    expect(msg.subject).toBe('שלום עולם');
    expect(msg.text.trim()).toBe('שלום עולם');
  });

  it('decodes ISO-8859-2 Polish text, subject and the RFC 2231 attachment filename', async () => {
    const msg = await parse('seeded/pl-iso-8859-2-attachment.eml');
    expect(msg.subject).toBe('Reklamacja zamówienia 55107 - brak odpowiedzi');
    expect(msg.text).toContain('złożyłem reklamację zamówienia nr 55107 dwa tygodnie temu i do dziś nie otrzymałem odpowiedzi.');
    expect(msg.text).toContain('Łukasz Wójcik');
    expect(msg.sender.displayName).toBe('Łukasz Wójcik');
    expect(msg.attachments).toHaveLength(1);
    expect(msg.attachments[0]).toMatchObject({
      filename: 'reklamacja_zdjęcie_uszkodzenia.pdf',
      contentType: 'application/pdf',
      inline: false,
    });
    expect(msg.attachments[0]?.content?.subarray(0, 5).toString()).toBe('%PDF-');
    // A subject with an order number but no bracketed token is not threaded to a ticket.
    expect(msg.thread.ticketNumber).toBeUndefined();
  });
});

describe('threading', () => {
  it('reads In-Reply-To, References and the [#1042] token of a Polish reply', async () => {
    const msg = await parse('seeded/pl-utf8-threaded-reply.eml');
    expect(msg.thread).toEqual({
      referencedMessageIds: ['<reply-1042-1.6f2a@complaint-desk.example>', '<20260309.pl1.55107@poczta.example.pl>'],
      ticketNumber: 1042,
    });
    expect(msg.messageIdHeader).toBe('<20260310.pl2.55107@poczta.example.pl>');
    expect(msg.text).toContain('Dziękuję za odpowiedź');
  });

  it('takes References whether mailparser gives a string (one id) or an array (several)', async () => {
    const one = await parse('chatwoot/support.eml');
    expect(one.thread.referencedMessageIds).toEqual(['<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail>']);
    const several = await parse('chatwoot/mail_with_references.eml');
    expect(several.thread.referencedMessageIds).toEqual([
      '<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail>',
      '<test-reference-id>',
    ]);
  });

  it('splits a folded two-id In-Reply-To and a comma-separated duplicate', async () => {
    const folded = await parse('chatwoot/multiple_in_reply_to.eml');
    expect(folded.thread.referencedMessageIds).toEqual([
      '<4e6e35f5a38b4_479f13bb90078171@small-app-01.mail>',
      '<4e6e35f5a38b4_479f13bb90078131@small-app-01.mail>',
      '<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail>',
    ]);
    const duplicated = await parse('chatwoot/reply.eml');
    expect(duplicated.thread.referencedMessageIds).toEqual(['<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail>']);
  });
});

describe('automated mail', () => {
  it.each([
    ['chatwoot/auto_reply.eml'],
    ['chatwoot/auto_reply_with_auto_submitted.eml'],
    ['chatwoot/non_utf_encoded_mail.eml'],
    ['seeded/he-auto-reply.eml'],
  ])('flags %s as an auto-reply', async (file) => {
    expect((await parse(file)).automated).toBe('auto_reply');
  });

  it('keeps the ticket token of a Hebrew out-of-office so it is stored on the right ticket', async () => {
    const msg = await parse('seeded/he-auto-reply.eml');
    expect(msg.thread.ticketNumber).toBe(1043);
    expect(msg.thread.referencedMessageIds).toEqual(['<ack-1043.aa10@complaint-desk.example>']);
    expect(msg.text).toContain('אני מחוץ למשרד עד יום ראשון');
  });

  it.each([
    ['chatwoot/bounced_gmail.eml', '<conversation/93775311-9416-4428-964b-862001f8a8b2/messages/27855337@gmail.com>'],
    ['seeded/pl-bounce-dsn.eml', '<reply-1042-2.71bb@complaint-desk.example>'],
    ['mailparser/delivery-status.eml', '<xxxxx@email.amazonses.com>'],
  ])('flags %s as a bounce and threads it to the returned message', async (file, originalId) => {
    const msg = await parse(file);
    expect(msg.automated).toBe('bounce');
    expect(msg.thread.referencedMessageIds).toContain(originalId);
  });

  it('reads the ticket token and failure details from the returned Polish reply', async () => {
    const msg = await parse('seeded/pl-bounce-dsn.eml');
    expect(msg.thread.ticketNumber).toBe(1042);
    expect(msg.providerData?.bounce).toEqual({ failedRecipients: ['nieistniejacy@example.pl'], status: '5.1.1' });
    expect(msg.attachments.map((a) => a.contentType)).toEqual(['message/delivery-status', 'message/rfc822']);
  });

  it('stores a bounce whose From is only a comment, under a placeholder sender', async () => {
    const msg = await parse('chatwoot/bounced_with_no_from.eml');
    expect(msg.automated).toBe('bounce');
    expect(msg.sender).toEqual({ kind: 'email', address: 'mailer-daemon@unknown.invalid', displayName: 'Mail Delivery System' });
    expect(msg.providerData?.bounce).toEqual({ failedRecipients: ['noreply@example-service.com'], status: '5.7.1' });
  });

  it('keeps the empty-bodied parts of a Gmail bounce', async () => {
    const msg = await parse('chatwoot/bounced_gmail.eml');
    expect(msg.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
      ['icon.png', 'image/png', 0],
      [null, 'message/delivery-status', 0],
      [null, 'message/rfc822', 514],
    ]);
    expect(msg.providerData?.bounce).toEqual({ failedRecipients: ['alex.jones@fictionalcorp.com'] });
  });
});

describe('senders', () => {
  it('reads the baseline support mail: sender, text, not automated', async () => {
    const msg = await parse('chatwoot/support.eml');
    expect(msg.automated).toBeUndefined();
    expect(msg.sender).toEqual({ kind: 'email', address: 'sony@chatwoot.com', displayName: 'Sony Mathew' });
    expect(msg.text).toContain("Let's talk about these images");
    expect(msg.subject).toBe("Discussion: Let's debate these attachments");
    expect(msg.sentAt.toISOString()).toBe('2020-04-20T08:20:20.000Z');
    expect(msg.providerData?.recipients).toEqual(['care@example.com']);
  });

  it('lower-cases a mixed-case From', async () => {
    expect((await parse('chatwoot/mail_with_uppercase_from.eml')).sender.address).toBe('test@chatwoot.com');
  });

  it('skips a Reply-To equal to From, whatever its case', async () => {
    const msg = await parse('chatwoot/support_uppercase.eml');
    expect(msg.sender.address).toBe('sony@chatwoot.com');
    expect(msg.otherIdentities).toBeUndefined();
  });

  it('keeps a different Reply-To as another identity', async () => {
    const msg = await parse('chatwoot/reply_to.eml');
    expect(msg.otherIdentities).toEqual([
      { kind: 'email', address: 'reply+someidmfdvkjdnkjciwyreowuero83@chatwoot.com', displayName: undefined },
    ]);
  });

  it('ignores a malformed Reply-To <"">', async () => {
    const msg = await parse('chatwoot/malformed_reply_to.eml');
    expect(msg.sender.address).toBe('sender@example.com');
    expect(msg.otherIdentities).toBeUndefined();
  });

  it('takes X-Original-Sender over a group From, and keeps the group out of the identities', async () => {
    const msg = await parse('chatwoot/group_sender_support.eml');
    expect(msg.sender).toEqual({ kind: 'email', address: 'jane@example.com', displayName: undefined });
    expect(msg.otherIdentities).toBeUndefined();
    expect(msg.providerData?.originalFrom).toBe('acme_group@example.com');
  });

  it('rejects a customer message with no usable From', async () => {
    const raw = 'From: "" (nobody)\r\nSubject: hi\r\nMessage-ID: <x@y>\r\n\r\nhello\r\n';
    await expect(parseRaw(raw)).rejects.toThrow(InvalidPayloadError);
  });

  it('turns a message mailparser refuses into InvalidPayloadError("mime")', async () => {
    const part = '--b\r\nContent-Type: text/plain\r\n\r\nx\r\n';
    const raw = `From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n${part.repeat(1001)}--b--\r\n`;
    await expect(parseRaw(raw)).rejects.toMatchObject({ name: 'InvalidPayloadError', field: 'mime' });
  });

  it('falls back to the Return-Path for an automated message with no From', async () => {
    const raw = 'Return-Path: <robot@example.org>\r\nAuto-Submitted: auto-generated\r\nSubject: hi\r\n\r\nhello\r\n';
    const msg = await parseRaw(raw);
    expect(msg.sender.address).toBe('robot@example.org');
    expect(msg.automated).toBe('auto_reply');
  });
});

describe('ids and dates', () => {
  it('falls back to receipt time when the Date header is empty', async () => {
    const msg = await parse('chatwoot/mail_with_no_date.eml');
    expect(msg.sentAt).toEqual(RECEIVED_AT);
  });

  it('falls back to receipt time when the Date header cannot be parsed', async () => {
    const msg = await parseRaw('From: a@example.com\r\nDate: someday soon\r\n\r\nhi\r\n');
    expect(msg.sentAt).toEqual(RECEIVED_AT);
  });

  it('synthesizes a stable id from the bytes when Message-ID is missing', async () => {
    const first = await parse('chatwoot/mail_with_no_date.eml');
    const again = await parse('chatwoot/mail_with_no_date.eml');
    const other = await parse('chatwoot/malformed_reply_to.eml');
    expect(first.messageIdHeader).toBeUndefined();
    expect(first.providerMessageId).toMatch(/^<[0-9a-f]{64}@complaint-desk\.invalid>$/);
    expect(again.providerMessageId).toBe(first.providerMessageId);
    expect(other.providerMessageId).not.toBe(first.providerMessageId);
  });

  it('uses the Message-ID, trimmed, as the provider id', async () => {
    const msg = await parse('seeded/he-iso-8859-8-qp.eml');
    expect(msg.providerMessageId).toBe('<c1f0a3e2.he1@mail.example.co.il>');
    expect(msg.messageIdHeader).toBe(msg.providerMessageId);
  });
});

describe('bodies and attachments', () => {
  it('keeps all 30 empty-bodied attachments of multiple_attachments.eml', async () => {
    const msg = await parse('chatwoot/multiple_attachments.eml');
    expect(msg.attachments).toHaveLength(30);
    expect(msg.attachments.every((a) => a.size === 0 && a.contentType === 'image/png')).toBe(true);
    expect(msg.attachments[0]?.filename).toBe('Screenshot 2023-05-03 at 3.32.04 PM.png');
  });

  it('keeps attachments whose filename is empty, with a null filename', async () => {
    const msg = await parse('chatwoot/attachments_without_filename.eml');
    expect(msg.attachments.map((a) => a.filename)).toEqual([null, null]);
  });

  it('keeps cid: links in the HTML and marks the referenced images inline', async () => {
    const msg = await parse('chatwoot/mail_with_inline_images.eml');
    expect(msg.html).toContain('cid:ii_lm7fuura0');
    expect(msg.html).not.toContain('data:image');
    expect(msg.attachments.map((a) => [a.contentId, a.inline])).toEqual([
      ['<ii_lm7fuura0>', true],
      ['<ii_lm7fuuvm1>', true],
      ['<ii_lm7fuuwn2>', true],
    ]);
  });

  it('marks an image inline from its cid: reference even without Content-Disposition', async () => {
    const msg = await parse('chatwoot/cid_inline_images_without_disposition.eml');
    expect(msg.attachments).toMatchObject([{ contentType: 'image/jpeg', contentId: '<image001.jpg@test>', inline: true }]);
  });

  it('does not mark related images inline when no HTML shows them', async () => {
    const msg = await parse('chatwoot/mail_with_plain_text_and_inline_image.eml');
    expect(msg.html).toBeUndefined();
    expect(msg.attachments).toHaveLength(3);
    expect(msg.attachments.every((a) => a.inline === false)).toBe(true);
  });

  it('uses mailparser text for HTML-only mail', async () => {
    const msg = await parse('chatwoot/only_html.eml');
    expect(msg.text).toMatch(/this is html only mail/i);
    expect(msg.html).toContain('<h1>');
  });

  it('derives text from HTML when mailparser gives none', async () => {
    const msg = await parse('mailparser/spam.eml');
    expect(msg.text).toContain('Im Jahre 2007 wurde er als „asozialer Penner“ beschimpft!');
    expect(msg.text).toContain('Straße und lebte unter der Brücke.');
    expect(msg.text).not.toMatch(/<[a-z]/i);
  });

  it('keeps a root-level attachment with no text body', async () => {
    const msg = await parse('mailparser/base64encodedroot.eml');
    expect(msg.text).toBe('');
    expect(msg.attachments).toMatchObject([{ filename: 'screenshot.png', contentType: 'image/png', size: 425 }]);
  });
});

describe('htmlToText', () => {
  it('drops head, style and tags, breaks blocks and decodes entities', () => {
    const html =
      '<html><head><title>t</title><style>p{}</style></head><body><p>a&nbsp;&amp;&#x5D0;&#1489;</p><div>x<br>y</div><!-- c --></body></html>';
    expect(htmlToText(html)).toBe('a\u00a0&אב\nx\ny');
  });

  it('leaves unknown entities as written', () => {
    expect(htmlToText('&unknown; &#0; &#xD800;')).toBe('&unknown; &#0; &#xD800;');
  });
});
