import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { PermanentSendError, type OutboundMessage } from '../../../../src/channels/channel.sender.js';
import { createEmailSender, replySubject, textToHtml } from '../../../../src/channels/email/email.sender.js';
import { closedPort } from './local-http.js';

interface Received {
  raw: string;
  mailFrom: string | undefined;
  rcptTo: string[];
}

/** A real SMTP server on 127.0.0.1; `rcpt` decides each RCPT TO (an Error with responseCode refuses). */
async function startSmtp(rcpt?: (address: SMTPServerAddress) => Error | null) {
  const received: Received[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      callback(rcpt?.(address) ?? null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          raw: Buffer.concat(chunks).toString('utf8'),
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const smtpError = (message: string, responseCode: number): Error => Object.assign(new Error(message), { responseCode });

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(rcpt?: (address: SMTPServerAddress) => Error | null) {
  const smtp = await startSmtp(rcpt);
  cleanup.push(smtp.close);
  const sender = createEmailSender({ smtpUrl: smtp.url, from: 'Complaint Desk <support@desk.example>', messageIdDomain: 'desk.example' });
  cleanup.push(() => sender.close());
  return { smtp, sender };
}

const OUTBOX_ID = '5f0c6a52-8d1e-4c1b-9a57-2f7d7a0b9e11';

const reply = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  outboxId: OUTBOX_ID,
  ticketNumber: 1042,
  channel: 'email',
  to: { kind: 'email', address: 'dana@customer.example', displayName: 'Dana Levi' },
  subject: 'RE: Re: Order arrived damaged',
  text: 'Hello Dana,\n\nWe are sorry.\nA courier will collect it tomorrow.\n\nRegards',
  thread: {
    inReplyToMessageId: '<abc@customer.example>',
    references: ['<t-0@desk.example>', '<abc@customer.example>'],
  },
  ...over,
});

const parse = async (raw: string): Promise<ParsedMail> => simpleParser(raw);

describe('createEmailSender against a local SMTP server', () => {
  it('threads the reply: Message-ID, In-Reply-To, References, subject token, text and HTML parts', async () => {
    const { smtp, sender } = await setup();
    const result = await sender.send(reply());

    expect(result).toEqual({ providerMessageId: `<outbox-${OUTBOX_ID}@desk.example>` });
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]!.rcptTo).toEqual(['dana@customer.example']);
    expect(smtp.received[0]!.mailFrom).toBe('support@desk.example');

    const raw = smtp.received[0]!.raw;
    expect(raw).toMatch(/^Message-ID: <outbox-5f0c6a52-8d1e-4c1b-9a57-2f7d7a0b9e11@desk\.example>\r$/m);
    expect(raw).toMatch(/^In-Reply-To: <abc@customer\.example>\r$/m);
    // The customer's id was already in References: once, last.
    expect(raw).toMatch(/^References: <t-0@desk\.example> <abc@customer\.example>\r$/m);
    expect(raw).not.toMatch(/^Auto-Submitted:/im);

    const mail = await parse(raw);
    expect(mail.messageId).toBe(result.providerMessageId);
    expect(mail.inReplyTo).toBe('<abc@customer.example>');
    expect(mail.references).toEqual(['<t-0@desk.example>', '<abc@customer.example>']);
    expect(mail.subject).toBe('Re: Order arrived damaged [#1042]');
    expect(mail.to).toMatchObject({ value: [{ name: 'Dana Levi', address: 'dana@customer.example' }] });
    expect(mail.text?.trim()).toBe(reply().text);
    expect(mail.html).toContain('<p>Hello Dana,</p>');
    expect(mail.html).toContain('<p>We are sorry.<br>\nA courier will collect it tomorrow.</p>');
    expect(mail.html).not.toContain('dir="rtl"');
  });

  it('sends the same Message-ID when the same outbox row is sent again, and honours a stored one', async () => {
    const { smtp, sender } = await setup();
    const first = await sender.send(reply());
    const retry = await sender.send(reply());
    expect(retry.providerMessageId).toBe(first.providerMessageId);
    const stored = await sender.send(reply({ messageIdHeader: '<stored-1@desk.example>' }));
    expect(stored.providerMessageId).toBe('<stored-1@desk.example>');
    expect((await parse(smtp.received[2]!.raw)).messageId).toBe('<stored-1@desk.example>');
  });

  it('writes a Hebrew reply right to left in the HTML part', async () => {
    const { smtp, sender } = await setup();
    const text = 'שלום דנה,\n\nאנו מצטערים על העיכוב. השליח יגיע מחר.';
    await sender.send(reply({ language: 'he', text, subject: 'השב: הזמנה פגומה' }));
    const mail = await parse(smtp.received[0]!.raw);
    expect(mail.subject).toBe('Re: הזמנה פגומה [#1042]');
    expect(mail.html).toContain('<div dir="rtl" lang="he">');
    expect(mail.html).toContain('<p>אנו מצטערים על העיכוב. השליח יגיע מחר.</p>');
    expect(mail.text?.trim()).toBe(text);
    expect(mail.headers.get('content-language')).toBe('he');
  });

  it('keeps Polish UTF-8 intact in the subject, display name, text and HTML', async () => {
    const { smtp, sender } = await setup();
    const text = 'Zażółć gęślą jaźń — przepraszamy za opóźnienie.';
    await sender.send(reply({ language: 'pl', text, subject: 'Odp: Reklamacja: uszkodzona przesyłka', to: { kind: 'email', address: 'l@customer.example', displayName: 'Łukasz Żółw' } }));
    const mail = await parse(smtp.received[0]!.raw);
    expect(mail.subject).toBe('Re: Reklamacja: uszkodzona przesyłka [#1042]');
    expect(mail.to).toMatchObject({ value: [{ name: 'Łukasz Żółw', address: 'l@customer.example' }] });
    expect(mail.text?.trim()).toBe(text);
    expect(mail.html).toContain(`<div lang="pl">`);
    expect(mail.html).toContain(`<p>${text}</p>`);
  });

  it('uses the agent’s HTML when there is one, and escapes plain text into paragraphs otherwise', async () => {
    const { smtp, sender } = await setup();
    await sender.send(reply({ text: 'Use <b> & "quotes"', html: '<p><b>Bold</b> answer</p>' }));
    await sender.send(reply({ text: 'Use <script>alert(1)</script> & "quotes"' }));
    expect((await parse(smtp.received[0]!.raw)).html).toContain('<p><b>Bold</b> answer</p>');
    const escaped = (await parse(smtp.received[1]!.raw)).html;
    expect(escaped).toContain('<p>Use &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;</p>');
    expect(escaped).not.toContain('<script>');
  });

  it('turns a 550 to RCPT TO into a PermanentSendError', async () => {
    const { smtp, sender } = await setup(() => smtpError('5.1.1 No such user here', 550));
    const error = await sender.send(reply()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSendError);
    expect(error).toMatchObject({ code: 'smtp-rejected' });
    expect((error as Error).message).toContain('550');
    expect(smtp.received).toHaveLength(0);
  });

  it('leaves a 451 (greylisting) retryable', async () => {
    const { sender } = await setup(() => smtpError('4.7.1 Greylisted, try again later', 451));
    const error = await sender.send(reply()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentSendError);
  });

  it('leaves a server that is down retryable', async () => {
    const port = await closedPort();
    const sender = createEmailSender({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'support@desk.example', messageIdDomain: 'desk.example' });
    cleanup.push(() => sender.close());
    const error = await sender.send(reply()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(PermanentSendError);
  });

  it('refuses a recipient that is not an e-mail address without connecting', async () => {
    const { smtp, sender } = await setup();
    await expect(sender.send(reply({ to: { kind: 'phone', address: '+972501234567' } }))).rejects.toMatchObject({ code: 'invalid-recipient' });
    expect(smtp.received).toHaveLength(0);
  });
});

describe('replySubject', () => {
  it('adds one "Re:" and the token, whatever prefixes the customer’s client stacked', () => {
    expect(replySubject('Re: RE: AW: Broken kettle', 7)).toBe('Re: Broken kettle [#7]');
    expect(replySubject('Broken kettle', 7)).toBe('Re: Broken kettle [#7]');
  });
  it('keeps our token where it is rather than adding a second one', () => {
    expect(replySubject('Re: Broken kettle [#7]', 7)).toBe('Re: Broken kettle [#7]');
    expect(replySubject('Re: [Ticket#7] Broken kettle', 7)).toBe('Re: [Ticket#7] Broken kettle');
  });
  it('drops another ticket’s token, so the answer cannot thread onto it', () => {
    expect(replySubject('Re: Broken kettle [#5]', 7)).toBe('Re: Broken kettle [#7]');
    expect(replySubject('Re: [#7] Broken kettle [#5]', 7)).toBe('Re: Broken kettle [#7]');
  });
  it('copes with no subject and keeps bare order numbers', () => {
    expect(replySubject(undefined, 7)).toBe('Re: [#7]');
    expect(replySubject('', 7)).toBe('Re: [#7]');
    expect(replySubject('Order #55107 missing', 7)).toBe('Re: Order #55107 missing [#7]');
  });
});

describe('textToHtml', () => {
  it('makes paragraphs of blank-line-separated blocks and <br> of single newlines', () => {
    expect(textToHtml('a\r\nb\r\n\r\n\r\nc')).toBe('<p>a<br>\nb</p>\n<p>c</p>');
  });
});
