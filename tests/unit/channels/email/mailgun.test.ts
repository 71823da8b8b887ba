import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../../../src/channels/channel.errors.js';
import { parseMailgunForm, verifyMailgunSignature } from '../../../../src/channels/email/mailgun.js';
import { fixture, RECEIVED_AT } from './fixtures.js';

// shared/channels.md §3b test vector.
const KEY = 'key-test-signing';
const VECTOR = {
  timestamp: '1718030451',
  token: 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0',
  signature: '226d01ede82a2aba38d52acc5b263393a080f1255f2cfb28f0149e0019e00bce',
};
const at = (offsetSec: number) => new Date((Number(VECTOR.timestamp) + offsetSec) * 1000);

describe('verifyMailgunSignature', () => {
  it('accepts the documented test vector', () => {
    expect(verifyMailgunSignature(VECTOR, KEY, at(30), 900)).toBe(true);
  });

  it('accepts an upper-case hex signature', () => {
    expect(verifyMailgunSignature({ ...VECTOR, signature: VECTOR.signature.toUpperCase() }, KEY, at(0), 900)).toBe(true);
  });

  it('rejects a tampered token, timestamp or signature, and the wrong key', () => {
    expect(verifyMailgunSignature({ ...VECTOR, token: `${VECTOR.token.slice(0, -1)}1` }, KEY, at(0), 900)).toBe(false);
    expect(verifyMailgunSignature({ ...VECTOR, timestamp: '1718030452' }, KEY, at(0), 900)).toBe(false);
    expect(verifyMailgunSignature({ ...VECTOR, signature: `0${VECTOR.signature.slice(1)}` }, KEY, at(0), 900)).toBe(false);
    expect(verifyMailgunSignature(VECTOR, 'key-other', at(0), 900)).toBe(false);
  });

  it('rejects a timestamp older than the allowed age, or from the future', () => {
    expect(verifyMailgunSignature(VECTOR, KEY, at(901), 900)).toBe(false);
    expect(verifyMailgunSignature(VECTOR, KEY, at(60), 30)).toBe(false);
    expect(verifyMailgunSignature(VECTOR, KEY, at(-3600), 900)).toBe(false);
  });

  it('returns false, without throwing, for malformed signatures and fields', () => {
    for (const signature of ['', 'abc', `${VECTOR.signature}00`, VECTOR.signature.slice(2), 'zz'.repeat(32)]) {
      expect(verifyMailgunSignature({ ...VECTOR, signature }, KEY, at(0), 900)).toBe(false);
    }
    expect(verifyMailgunSignature({ ...VECTOR, timestamp: 'soon' }, KEY, at(0), 900)).toBe(false);
    expect(verifyMailgunSignature({ ...VECTOR, token: '' }, KEY, at(0), 900)).toBe(false);
    expect(verifyMailgunSignature(VECTOR, '', at(0), 900)).toBe(false);
    const missing = { timestamp: VECTOR.timestamp, token: VECTOR.token } as unknown as typeof VECTOR;
    expect(verifyMailgunSignature(missing, KEY, at(0), 900)).toBe(false);
  });

  it('verifies a freshly signed request', () => {
    const timestamp = String(Math.floor(RECEIVED_AT.getTime() / 1000));
    const token = 'f'.repeat(50);
    const signature = createHmac('sha256', 'k').update(timestamp + token).digest('hex');
    expect(verifyMailgunSignature({ timestamp, token, signature }, 'k', RECEIVED_AT, 900)).toBe(true);
  });
});

const baseForm = {
  sender: 'lukasz.wojcik@example.pl',
  from: 'Łukasz Wójcik <Lukasz.Wojcik@example.pl>',
  recipient: 'reklamacje@complaint-desk.example',
  subject: 'Re: [#1042] Reklamacja zamówienia 55107',
  'body-plain': 'Dziękuję za odpowiedź.\n',
  timestamp: VECTOR.timestamp,
  token: VECTOR.token,
  signature: VECTOR.signature,
};

const messageHeaders = (pairs: [string, string][]) => JSON.stringify(pairs);

describe('parseMailgunForm (parsed fields)', () => {
  it('threads a reply from message-headers', async () => {
    const msg = await parseMailgunForm(
      {
        ...baseForm,
        'message-headers': messageHeaders([
          ['Message-Id', '<20260310.pl2.55107@poczta.example.pl>'],
          ['In-Reply-To', '<reply-1042-1.6f2a@complaint-desk.example>'],
          ['References', '<20260309.pl1.55107@poczta.example.pl>\r\n <reply-1042-1.6f2a@complaint-desk.example>'],
          ['Date', 'Tue, 10 Mar 2026 21:47:05 +0200'],
          ['Reply-To', 'lukasz.private@example.pl'],
        ]),
      },
      [],
      { receivedAt: RECEIVED_AT },
    );
    expect(msg).toMatchObject({
      channel: 'email',
      kind: 'message',
      providerMessageId: '<20260310.pl2.55107@poczta.example.pl>',
      messageIdHeader: '<20260310.pl2.55107@poczta.example.pl>',
      sender: { kind: 'email', address: 'lukasz.wojcik@example.pl', displayName: 'Łukasz Wójcik' },
      otherIdentities: [{ kind: 'email', address: 'lukasz.private@example.pl' }],
      thread: {
        referencedMessageIds: ['<reply-1042-1.6f2a@complaint-desk.example>', '<20260309.pl1.55107@poczta.example.pl>'],
        ticketNumber: 1042,
      },
      subject: 'Re: [#1042] Reklamacja zamówienia 55107',
      text: 'Dziękuję za odpowiedź.\n',
      providerData: { recipient: 'reklamacje@complaint-desk.example' },
    });
    expect(msg.automated).toBeUndefined();
    expect(msg.sentAt.toISOString()).toBe('2026-03-10T19:47:05.000Z');
  });

  it('flags an auto-reply from its headers', async () => {
    const msg = await parseMailgunForm(
      { ...baseForm, 'message-headers': messageHeaders([['Auto-Submitted', 'auto-replied']]) },
      [],
      { receivedAt: RECEIVED_AT },
    );
    expect(msg.automated).toBe('auto_reply');
    expect(msg.thread.ticketNumber).toBe(1042);
  });

  it('treats an empty envelope sender as automatic and still stores a From-less bounce', async () => {
    const msg = await parseMailgunForm(
      {
        ...baseForm,
        sender: '',
        from: '',
        'message-headers': messageHeaders([['Content-Type', 'multipart/report; report-type=delivery-status; boundary="b"']]),
      },
      [],
      { receivedAt: RECEIVED_AT },
    );
    expect(msg.automated).toBe('bounce');
    expect(msg.sender.address).toBe('mailer-daemon@unknown.invalid');
  });

  it('synthesizes an id that ignores the per-delivery signature fields', async () => {
    const first = await parseMailgunForm(baseForm, [], { receivedAt: RECEIVED_AT });
    const retry = await parseMailgunForm({ ...baseForm, timestamp: '1718030999', token: 'x'.repeat(50), signature: 'y' }, [], {
      receivedAt: RECEIVED_AT,
    });
    const other = await parseMailgunForm({ ...baseForm, 'body-plain': 'different' }, [], { receivedAt: RECEIVED_AT });
    expect(first.providerMessageId).toMatch(/^<[0-9a-f]{64}@complaint-desk\.invalid>$/);
    expect(retry.providerMessageId).toBe(first.providerMessageId);
    expect(other.providerMessageId).not.toBe(first.providerMessageId);
    expect(first.messageIdHeader).toBeUndefined();
    expect(first.sentAt).toEqual(RECEIVED_AT);
  });

  it('keeps uploaded attachments, including empty ones, and derives text from HTML-only mail', async () => {
    const msg = await parseMailgunForm(
      { ...baseForm, 'body-plain': '', 'body-html': '<p>Zdj&#281;cie w za&#322;&#261;czniku</p>' },
      [
        { filename: 'zdjęcie.jpg', contentType: 'image/jpeg', content: Buffer.from([0xff, 0xd8, 0xff]) },
        { filename: null, contentType: '', content: Buffer.alloc(0) },
      ],
      { receivedAt: RECEIVED_AT },
    );
    expect(msg.text).toBe('Zdjęcie w załączniku');
    expect(msg.html).toBe('<p>Zdj&#281;cie w za&#322;&#261;czniku</p>');
    expect(msg.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
      ['zdjęcie.jpg', 'image/jpeg', 3],
      [null, 'application/octet-stream', 0],
    ]);
    expect(msg.attachments[1]?.checksum).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it.each([['from'], ['sender']])('rejects a form without %s, naming the field', async (field) => {
    const form: Record<string, string> = { ...baseForm };
    delete form[field];
    const parsing = parseMailgunForm(form, [], { receivedAt: RECEIVED_AT });
    await expect(parsing).rejects.toBeInstanceOf(InvalidPayloadError);
    await expect(parsing).rejects.toMatchObject({ field });
  });

  it('rejects a From with no usable address on a customer message', async () => {
    await expect(parseMailgunForm({ ...baseForm, from: 'nobody' }, [], { receivedAt: RECEIVED_AT })).rejects.toMatchObject({
      field: 'from',
    });
  });

  it.each([['not json'], ['{"a":1}'], ['[["only-name"]]']])('rejects message-headers %j', async (value) => {
    const parsing = parseMailgunForm({ ...baseForm, 'message-headers': value }, [], { receivedAt: RECEIVED_AT });
    await expect(parsing).rejects.toMatchObject({ name: 'InvalidPayloadError', field: 'message-headers' });
  });
});

describe('parseMailgunForm (raw MIME)', () => {
  it('parses body-mime with parseEmail and keeps the recipient', async () => {
    const mime = fixture('seeded/pl-utf8-threaded-reply.eml').toString('utf8');
    const msg = await parseMailgunForm(
      { 'body-mime': mime, recipient: 'reklamacje@complaint-desk.example', ...VECTOR },
      [],
      { receivedAt: RECEIVED_AT },
    );
    expect(msg.providerMessageId).toBe('<20260310.pl2.55107@poczta.example.pl>');
    expect(msg.thread.ticketNumber).toBe(1042);
    expect(msg.text).toContain('Dziękuję za odpowiedź');
    expect(msg.providerData).toMatchObject({ recipient: 'reklamacje@complaint-desk.example' });
  });

  it('flags an auto-reply delivered as raw MIME', async () => {
    const mime = fixture('seeded/he-auto-reply.eml').toString('utf8');
    const msg = await parseMailgunForm({ 'body-mime': mime }, [], { receivedAt: RECEIVED_AT });
    expect(msg.automated).toBe('auto_reply');
  });
});
