import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../../../src/channels/channel.errors.js';
import { parseEmail, writtenAddresses } from '../../../../src/channels/email/email.parser.js';
import { repairLegacyCharsets } from '../../../../src/channels/email/legacy-charset.js';
import { parseMailgunForm } from '../../../../src/channels/email/mailgun.js';
import { allFixtures, fixture, RECEIVED_AT } from './fixtures.js';

/**
 * Defect 16: mail from legacy clients. The corpus has no such mail, so the samples are built
 * here from bytes (iconv-lite encodes them as those clients did).
 */
const parse = (raw: Buffer) => parseEmail(raw, { receivedAt: RECEIVED_AT });
const bytes = (...chunks: (string | Buffer)[]) => Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : c)));
const gb = (text: string) => iconv.encode(text, 'gb2312');
const sjis = (text: string) => iconv.encode(text, 'cp932');

const GB_SUBJECT = '投诉：订单三个星期没有送到';
const GB_NAME = '张伟';
const GB_BODY = '您好，我在贵公司网站上订购的电水壶已经三个星期没有送到了。客服电话一直没有人接，请尽快处理并给我回复。谢谢！';

describe('undeclared 8-bit text (GB2312 from a legacy client)', () => {
  it('decodes raw 8-bit headers and a body with no charset parameter', async () => {
    const raw = bytes(
      'From: ', gb(GB_NAME), ' <zhang.wei@example.cn>\r\n',
      'To: support@desk.example.com\r\n',
      'Subject: ', gb(GB_SUBJECT), '\r\n',
      'Message-ID: <gb1@example.cn>\r\n',
      'MIME-Version: 1.0\r\n',
      'Content-Type: text/plain\r\n',
      'Content-Transfer-Encoding: 8bit\r\n\r\n',
      gb(GB_BODY), '\r\n',
    );
    const msg = await parse(raw);
    expect(msg.subject).toBe(GB_SUBJECT);
    expect(msg.sender).toEqual({ kind: 'email', address: 'zhang.wei@example.cn', displayName: GB_NAME });
    expect(msg.text.trim()).toBe(GB_BODY);
    expect(`${msg.subject}${msg.text}${msg.sender.displayName}`).not.toContain('\ufffd');
  });

  it('decodes undeclared parts of a multipart message, base64 and quoted-printable too, and a part with no Content-Type', async () => {
    const qp = [...gb(GB_BODY)].map((b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`).join('').replace(/(.{72})/g, '$1=\r\n');
    const raw = bytes(
      'From: zhang.wei@example.cn\r\nSubject: ', gb(GB_SUBJECT), '\r\nMIME-Version: 1.0\r\n',
      'Content-Type: multipart/alternative; boundary="b1"\r\n\r\n',
      '--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n', gb(GB_BODY).toString('base64'), '\r\n',
      '--b1\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>', qp, '</p>\r\n',
      '--b1--\r\n',
    );
    const msg = await parse(raw);
    expect(msg.text.trim()).toBe(GB_BODY);
    expect(msg.html).toContain(GB_BODY);
    expect(msg.subject).toBe(GB_SUBJECT);

    const noContentType = bytes('From: zhang.wei@example.cn\r\nSubject: ', gb(GB_SUBJECT), '\r\n\r\n', gb(GB_BODY));
    expect((await parse(noContentType)).text.trim()).toBe(GB_BODY);
  });

  it('decodes undeclared Cyrillic (windows-1251) the same way', async () => {
    const body = 'Здравствуйте! Я заказал чайник три недели назад, и он до сих пор не пришёл. Прошу вернуть деньги.';
    const raw = bytes('From: ivan@example.ru\r\nSubject: ', iconv.encode('Жалоба на доставку', 'windows-1251'), '\r\n\r\n', iconv.encode(body, 'windows-1251'));
    const msg = await parse(raw);
    expect(msg.text.trim()).toBe(body);
    expect(msg.subject).toBe('Жалоба на доставку');
  });

  it('leaves declared charsets and valid UTF-8 alone: every corpus mail comes back as the same bytes', () => {
    for (const file of allFixtures()) {
      const raw = fixture(file);
      expect(repairLegacyCharsets(raw), file).toBe(raw);
    }
    const utf8 = Buffer.from(`From: 张伟 <z@example.cn>\r\nSubject: ${GB_SUBJECT}\r\n\r\n${GB_BODY}`, 'utf8');
    expect(repairLegacyCharsets(utf8)).toBe(utf8);
  });
});

describe('Shift_JIS labelled ISO-2022-JP', () => {
  const body = '先週注文した商品がまだ届きません。至急ご対応ください。①';

  it('decodes a body and an encoded-word subject whose bytes are not ISO-2022-JP as CP932', async () => {
    const raw = bytes(
      'From: =?ISO-2022-JP?B?', sjis('山田太郎').toString('base64'), '?= <yamada@example.jp>\r\n',
      'Subject: =?ISO-2022-JP?B?', sjis('配送の苦情').toString('base64'), '?=\r\n',
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset="ISO-2022-JP"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
      sjis(body), '\r\n',
    );
    const msg = await parse(raw);
    expect(msg.subject).toBe('配送の苦情');
    expect(msg.sender.displayName).toBe('山田太郎');
    expect(msg.text.trim()).toBe(body);

    const base64 = bytes('From: yamada@example.jp\r\nContent-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: base64\r\n\r\n', sjis(body).toString('base64'));
    expect((await parse(base64)).text.trim()).toBe(body);
  });

  it('still decodes real ISO-2022-JP', async () => {
    // "テスト" in ISO-2022-JP: ESC $ B, the JIS X 0208 pairs, ESC ( B.
    const jis = Buffer.from([0x1b, 0x24, 0x42, 0x25, 0x46, 0x25, 0x39, 0x25, 0x48, 0x1b, 0x28, 0x42]);
    const raw = bytes('From: a@example.jp\r\nSubject: =?ISO-2022-JP?B?', jis.toString('base64'), '?=\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n', jis, '\r\n');
    expect(repairLegacyCharsets(raw)).toBe(raw);
    const msg = await parse(raw);
    expect(msg.subject).toBe('テスト');
    expect(msg.text.trim()).toBe('テスト');
  });
});

describe('the sender of a legacy mail', () => {
  const mail = (...headers: string[]) => Buffer.from(`${headers.join('\r\n')}\r\nSubject: s\r\nMessage-ID: <m@x>\r\n\r\nbody\r\n`, 'utf8');

  // A sender from any header but the first From is a claim (senderVerified false): the mail is
  // taken in, but intake links it to no existing customer (issue 11 review). These tests used to
  // take the fallback sender as verified.
  it('tries every From header in turn: an unreadable first one does not refuse the mail, and the later one is a claim', async () => {
    const msg = await parse(mail('From: =?broken', 'From: Dana Cohen <dana@example.co.il>'));
    expect(msg.sender).toEqual({ kind: 'email', address: 'dana@example.co.il', displayName: 'Dana Cohen' });
    expect(msg.senderVerified).toBe(false);
  });

  it('falls back to Reply-To when no From header has an address, as a claim', async () => {
    const replyTo = await parse(mail('From: Mail Client', 'Reply-To: Noa <noa@example.co.il>'));
    expect(replyTo.sender.address).toBe('noa@example.co.il');
    expect(replyTo.senderVerified).toBe(false);
    const only = await parse(mail('Reply-To: only@example.com'));
    expect(only.sender.address).toBe('only@example.com');
    expect(only.senderVerified).toBe(false);
  });

  it('vouches only for the first From header: a valid first From is the sender, whatever follows', async () => {
    const msg = await parse(mail('From: real@example.com', 'From: victim@bank.example', 'Reply-To: other@example.com'));
    expect(msg.sender.address).toBe('real@example.com');
    expect(msg.senderVerified).toBeUndefined();
    const forgedOriginal = await parse(mail('From: john smith@evil.example', 'X-Original-Sender: victim@bank.example'));
    expect(forgedOriginal.sender.address).toBe('victim@bank.example');
    expect(forgedOriginal.senderVerified).toBe(false);
  });

  it.each(['john smith@example.com', 'John <john smith@example.com>', '"john smith"@example.com', 'Name someone@example.com'])('never shortens %s into an address nobody wrote', async (from) => {
    await expect(parse(mail(`From: ${from}`))).rejects.toThrow(InvalidPayloadError);
    // With a usable Reply-To, that is the sender, and the shortened address appears nowhere.
    const msg = await parse(mail(`From: ${from}`, 'Reply-To: real@example.com'));
    expect(msg.sender.address).toBe('real@example.com');
    expect(JSON.stringify(msg)).not.toMatch(/"(smith|someone)@example\.com"/);
  });

  it('keeps what was written verbatim: angle brackets, bare mailboxes, comments, groups, IDN', () => {
    expect(writtenAddresses('"Cohen, Dana" <Dana@Example.co.il>, other@example.com (work)').map((a) => a.address)).toEqual(['dana@example.co.il', 'other@example.com']);
    expect(writtenAddresses('team: a@example.com, b@example.com;').map((a) => a.address)).toEqual(['a@example.com', 'b@example.com']);
    expect(writtenAddresses('x@xn--bcher-kva.example').length).toBe(1);
    expect(writtenAddresses('john smith@example.com')).toEqual([]);
  });

  it('applies to Mailgun forms too: every From in message-headers, then Reply-To, never a shortened address', async () => {
    const form = (headers: [string, string][], from: string) => ({ from, sender: 'envelope@example.com', 'body-plain': 'x', 'message-headers': JSON.stringify(headers) });
    const second = await parseMailgunForm(form([['From', 'garbage'], ['From', 'ok@example.com']], 'garbage'), [], { receivedAt: RECEIVED_AT });
    expect(second.sender.address).toBe('ok@example.com');
    expect(second.senderVerified).toBe(false);
    const replyTo = await parseMailgunForm(form([['From', 'john smith@example.com'], ['Reply-To', 'real@example.com']], 'john smith@example.com'), [], { receivedAt: RECEIVED_AT });
    expect(replyTo.sender.address).toBe('real@example.com');
    expect(replyTo.senderVerified).toBe(false);
    const first = await parseMailgunForm(form([['From', 'ok@example.com'], ['From', 'victim@bank.example']], 'ok@example.com'), [], { receivedAt: RECEIVED_AT });
    expect(first.senderVerified).toBeUndefined();
    await expect(parseMailgunForm(form([['From', 'john smith@example.com']], 'john smith@example.com'), [], { receivedAt: RECEIVED_AT })).rejects.toThrow(InvalidPayloadError);
  });
});
