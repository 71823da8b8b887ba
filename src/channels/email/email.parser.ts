import { createHash } from 'node:crypto';
import { domainToUnicode } from 'node:url';
import { parseAddressHeader, simpleParser } from 'mailparser';
import type { AddressObject, Attachment, EmailAddress, HeaderLines } from 'mailparser';
import { InvalidPayloadError } from '../channel.errors.js';
import type { AttachmentMeta, AutomatedKind, NormalizedInbound, SenderIdentity } from '../channel.types.js';
import { plausibleDate } from '../provider-date.js';
import { detectAutomated } from './email.automated.js';
import { repairLegacyCharsets } from './legacy-charset.js';
import { extractTicketNumber, normalizeMessageIds } from './email.threading.js';

const PARSE_OPTIONS = {
  // Inline images stay cid: links to the stored attachments; data: URIs would copy every image
  // into the HTML column and hide it from attachment handling.
  keepCidLinks: true,
  // Keeps message/delivery-status parts as attachments: bounce detection sees the part, and the
  // report is stored rather than blended into the text.
  keepDeliveryStatus: true,
  checksumAlgo: 'sha256',
} as const;

/**
 * Parses one raw RFC 5322 message. Throws InvalidPayloadError when mailparser refuses the bytes
 * (field "mime") or when a customer message names no sender (field "from").
 */
export async function parseEmail(raw: Buffer, opts: { receivedAt: Date }): Promise<NormalizedInbound> {
  const mail = await parseMime(repairLegacyCharsets(raw));
  const html = typeof mail.html === 'string' ? mail.html : undefined;
  const automated = detectAutomated(mail.headers, undefined, {
    deliveryStatusPart: mail.attachments.some((a) => a.contentType === 'message/delivery-status'),
  });
  const messageIdHeader = cleanMessageId(mail.messageId);
  const referencedMessageIds = normalizeMessageIds([
    ...normalizeMessageIds(mail.inReplyTo),
    ...normalizeMessageIds(mail.references),
  ]);
  let ticketNumber = extractTicketNumber(mail.subject);

  let bounce: Record<string, unknown> | undefined;
  if (automated === 'bounce') {
    // The returned copy is our own outbound mail: its Message-ID and ticket token lead to the ticket.
    const original = await returnedMessage(mail.attachments, mail.text, messageIdHeader);
    if (original.messageId && !referencedMessageIds.includes(original.messageId)) {
      referencedMessageIds.push(original.messageId);
    }
    ticketNumber ??= extractTicketNumber(original.subject);
    bounce = bounceDetails(mail.attachments, mail.headers.get('x-failed-recipients'));
  }

  const replyTo = headerValues(mail.headerLines, 'reply-to');
  const { sender, originalFrom, verified } = resolveSender({
    from: headerValues(mail.headerLines, 'from'),
    replyTo,
    originalSender: headerString(mail.headers.get('x-original-sender')),
    returnPath: addressList(mail.headers.get('return-path')),
    automated,
  });
  const otherIdentities = replyTo
    .flatMap(writtenAddresses)
    .filter((a) => a.address !== sender.address)
    .map((a) => ({ kind: 'email' as const, address: a.address, displayName: a.name || undefined }));

  const recipients = [...addressList(mail.to), ...addressList(mail.cc)];
  const providerData = compact({ recipients: recipients.length ? recipients : undefined, originalFrom, bounce });

  return {
    channel: 'email',
    providerMessageId: messageIdHeader ?? synthesizeMessageId(raw),
    kind: 'message',
    sender,
    ...(verified ? {} : { senderVerified: false as const }),
    otherIdentities: otherIdentities.length ? otherIdentities : undefined,
    thread: {
      referencedMessageIds: referencedMessageIds.length ? referencedMessageIds : undefined,
      ticketNumber,
    },
    subject: mail.subject || undefined,
    text: mail.text ?? (html ? htmlToText(html) : ''),
    html,
    attachments: mail.attachments.map((a) => toAttachmentMeta(a, html)),
    sentAt: dateHeader(rawHeader(mail.headerLines, 'date'), opts.receivedAt),
    automated,
    messageIdHeader,
    providerData,
  };
}

/*
 * mailparser rejects only what it cannot read at all (a header block over 1 MB, more than 1000
 * parts). Retrying such a message cannot help, so it becomes a dead-lettered 400, not a 500.
 */
async function parseMime(raw: Buffer) {
  try {
    return await simpleParser(raw, PARSE_OPTIONS);
  } catch (err) {
    throw new InvalidPayloadError('mime', `unreadable MIME message: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * The idempotency key for a message without a Message-ID: the same bytes delivered twice
 * (an MTA or webhook retry) give the same key. The .invalid TLD (RFC 2606) keeps it from ever
 * colliding with a real Message-ID.
 */
export function synthesizeMessageId(bytes: Buffer | string): string {
  return `<${createHash('sha256').update(bytes).digest('hex')}@complaint-desk.invalid>`;
}

export function cleanMessageId(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed && trimmed !== '<>' ? trimmed : undefined;
}

/**
 * mailparser turns an unparseable Date into "now", which would pass for a real timestamp, so
 * the raw header is read again: an empty, unparseable or absurd one (year 99999) falls back to
 * receipt time.
 */
export function dateHeader(value: string | undefined, fallback: Date): Date {
  if (!value?.trim()) return fallback;
  return plausibleDate(new Date(value.trim()), fallback);
}

function rawHeader(lines: HeaderLines, key: string): string | undefined {
  return headerValues(lines, key)[0];
}

/**
 * Every occurrence of a header, in message order, unfolded. mailparser keeps one From; a
 * message can carry several, and the first may be unreadable while a later one is fine.
 * headerLines hold the bytes as latin1; the header bytes are UTF-8 (legacy ones were repaired).
 */
function headerValues(lines: HeaderLines, key: string): string[] {
  return lines
    .filter((l) => l.key === key)
    .map((l) => Buffer.from(l.line, 'latin1').toString('utf8'))
    .map((line) => line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]+/g, ' '));
}

export function toAttachmentMeta(a: Attachment, html: string | undefined): AttachmentMeta {
  return {
    filename: a.filename || null,
    contentType: a.contentType,
    size: a.size ?? a.content.length,
    contentId: a.contentId || undefined,
    inline: isReferencedImage(a.cid, html),
    content: a.content,
    checksum: a.checksum,
  };
}

/*
 * Inline means "shown inside the HTML body". A related or inline-disposition part that the HTML
 * never references (Apple Mail avatars under a text-only body, images in a mail with no HTML at
 * all) is flagged not inline, so a UI that hides inline parts still shows it as an attachment.
 */
function isReferencedImage(cid: string | undefined, html: string | undefined): boolean {
  if (!cid || !html) return false;
  return html.toLowerCase().includes(`cid:${cid.toLowerCase()}`);
}

function addressList(value: unknown): string[] {
  const objects = (Array.isArray(value) ? value : [value]) as (AddressObject | undefined)[];
  return objects.flatMap((o) => validAddresses(o?.value ?? [])).map((a) => a.address);
}

function headerString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

export function compact(data: Record<string, unknown>): Record<string, unknown> | undefined {
  const entries = Object.entries(data).filter(([, v]) => v !== undefined);
  return entries.length ? Object.fromEntries(entries) : undefined;
}

export interface SenderSources {
  /** Every From header's value, in message order. */
  from: readonly string[];
  /** Every Reply-To header's value: the sender when no From header holds a usable address. */
  replyTo?: readonly string[] | undefined;
  /** X-Original-Sender, set by Google Groups when it relays a member's mail under the group's From. */
  originalSender?: string | undefined;
  /** Return-Path (or the webhook's envelope sender) addresses, already validated. */
  returnPath?: readonly string[] | undefined;
  automated?: AutomatedKind | undefined;
}

export const UNKNOWN_DAEMON = 'mailer-daemon@unknown.invalid';

/**
 * Who the message is from, most specific first:
 * 1. X-Original-Sender: when a shared support address is a group, From names the group and
 *    this header names the customer; the group then goes to providerData.originalFrom, not to
 *    otherIdentities, because it is nobody's personal identity.
 * 2. The first valid From address, lower-cased, trying every From header in turn; then the
 *    first Reply-To address (a legacy client may set only that). Addresses are taken only as
 *    written (writtenAddresses), never as the address parser's repair of them.
 * 3. For automated mail only (bounces arrive with `From: "" (Mail Delivery System)`): the
 *    Return-Path, else a fixed placeholder, so the bounce is still stored and threaded.
 * A customer message with no usable sender cannot be answered or attributed, so it is rejected.
 *
 * `verified` is true only when the sender is the first From header's address: that is the
 * header the receiving side authenticates (SPF/DKIM alignment, DMARC). Anyone can add a second
 * From, a Reply-To or an X-Original-Sender naming someone else, so a sender from those is a
 * claim (NormalizedInbound.senderVerified false): the mail is taken in, on nobody's account.
 */
export function resolveSender(src: SenderSources): { sender: SenderIdentity; originalFrom?: string | undefined; verified: boolean } {
  const firstFrom = src.from[0] === undefined ? undefined : writtenAddresses(src.from[0])[0];
  const first = firstFrom ?? src.from.slice(1).flatMap(writtenAddresses)[0] ?? src.replyTo?.flatMap(writtenAddresses)[0];
  const original = src.originalSender ? writtenAddresses(src.originalSender)[0] : undefined;
  if (original) {
    const sameAsFrom = first?.address === original.address;
    const name = original.name || (sameAsFrom ? first?.name : '');
    return { sender: emailIdentity(original.address, name), originalFrom: sameAsFrom ? undefined : first?.address, verified: firstFrom?.address === original.address };
  }
  if (first) return { sender: emailIdentity(first.address, first.name), verified: first === firstFrom };
  if (src.automated) {
    const address = src.returnPath?.map((a) => a.toLowerCase()).find(isEmailAddress) ?? UNKNOWN_DAEMON;
    const named = src.from.flatMap((value) => parseAddressHeader(value).value).find((a) => a.name);
    return { sender: emailIdentity(address, named?.name), verified: false };
  }
  throw new InvalidPayloadError('from', 'The message has no usable From address');
}

function emailIdentity(address: string, name: string | undefined): SenderIdentity {
  return { kind: 'email', address, displayName: name?.trim() || undefined };
}

const EMAIL = /^[^\s@<>()[\]",;:\\]+@[^\s@<>()[\]",;:\\]+$/;

export function isEmailAddress(value: string): boolean {
  return EMAIL.test(value);
}

/**
 * The usable addresses a header holds as written. The address parser repairs what it cannot
 * read, and a repair can be someone else's address: "john smith@example.com" comes back as
 * smith@example.com, which nobody wrote and a reply would reach. An address is kept only when
 * the header holds it verbatim, inside <…> or as a whole mailbox (comments aside).
 */
export function writtenAddresses(headerValue: string): { address: string; name: string }[] {
  const written = writtenMailboxes(headerValue);
  return validAddresses(parseAddressHeader(headerValue).value).filter((a) => written.has(comparable(a.address)));
}

function writtenMailboxes(value: string): Set<string> {
  const found = new Set<string>();
  for (const m of value.matchAll(/<\s*([^<>\s]*)\s*>/g)) found.add(comparable(m[1]!));
  const bare = blankQuotedStrings(value).replace(/\([^()]*\)/g, ' ');
  for (const segment of bare.split(/[,;]/)) {
    if (segment.includes('<')) continue;
    // A group's name ("team: a@b.c") is not part of its first mailbox.
    const mailbox = segment.replace(/^[^@:]*:/, '').trim();
    if (mailbox) found.add(comparable(mailbox));
  }
  return found;
}

/**
 * Each quoted string ("…", backslash escapes) becomes "", in one pass: the equivalent regex
 * backtracks quadratically over a header of escaped quotes. An unclosed quote is kept as written.
 */
export function blankQuotedStrings(value: string): string {
  let out = '';
  let i = 0;
  while (i < value.length) {
    const open = value.indexOf('"', i);
    if (open === -1) break;
    let j = open + 1;
    while (j < value.length && value[j] !== '"') j += value[j] === '\\' ? 2 : 1;
    if (j >= value.length) break;
    out += value.slice(i, open) + '""';
    i = j + 1;
  }
  return out + value.slice(i);
}

/** Case-insensitive, and an IDN domain the same in punycode as in Unicode (mailparser decodes it). */
function comparable(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 0) return address.toLowerCase();
  const domain = address.slice(at + 1).toLowerCase();
  return `${address.slice(0, at).toLowerCase()}@${domain.includes('xn--') ? domainToUnicode(domain) || domain : domain}`;
}

/** Mailboxes with a usable address (groups flattened), lower-cased and deduplicated. */
export function validAddresses(list: readonly EmailAddress[]): { address: string; name: string }[] {
  const seen = new Map<string, string>();
  for (const entry of list.flatMap((e) => (e.group ? e.group : [e]))) {
    const address = entry.address?.trim().toLowerCase();
    if (address && isEmailAddress(address) && !seen.has(address)) seen.set(address, entry.name ?? '');
  }
  return [...seen].map(([address, name]) => ({ address, name }));
}

const RETURNED_TYPES = new Set(['message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers']);

/**
 * The Message-ID and Subject of the message a bounce returns: from the returned message/rfc822
 * (or rfc822-headers) part, else a "Message-ID:" line quoted in the report text.
 */
export async function returnedMessage(
  attachments: readonly { contentType: string; content: Buffer }[],
  text: string | undefined,
  ownMessageId: string | undefined,
): Promise<{ messageId?: string | undefined; subject?: string | undefined }> {
  for (const part of attachments) {
    if (!RETURNED_TYPES.has(part.contentType) || part.content.length === 0) continue;
    // Only the header block is needed; the returned body can be large and is parsed for nothing.
    const parsed = await simpleParser(headerBlock(part.content), { skipHtmlToText: true, skipTextToHtml: true }).catch(
      () => undefined, // an unreadable returned copy only costs the threading hint
    );
    const messageId = cleanMessageId(parsed?.messageId);
    if (messageId && messageId !== ownMessageId) return { messageId, subject: parsed?.subject };
  }
  const quoted = text ? /^[ \t>]*message-id:\s*(<[^<>\s]+>)/im.exec(text)?.[1] : undefined;
  return { messageId: quoted !== ownMessageId ? quoted : undefined };
}

function headerBlock(content: Buffer): Buffer {
  const ends = [content.indexOf('\r\n\r\n'), content.indexOf('\n\n')].filter((i) => i >= 0);
  const head = ends.length ? content.subarray(0, Math.min(...ends)) : content;
  return Buffer.concat([head, Buffer.from('\n\n')]);
}

/** Who could not be reached and why, for marking an address undeliverable later. */
export function bounceDetails(
  attachments: readonly { contentType: string; content: Buffer }[],
  failedRecipientsHeader: unknown,
): Record<string, unknown> | undefined {
  const report = attachments
    .filter((a) => a.contentType === 'message/delivery-status')
    .map((a) => a.content.toString('utf8'))
    .join('\n');
  const recipients = new Set<string>();
  for (const m of report.matchAll(/^final-recipient:[^;\r\n]*;\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$/gim)) {
    if (m[1]) recipients.add(m[1].toLowerCase());
  }
  const header = typeof failedRecipientsHeader === 'string' ? failedRecipientsHeader : '';
  for (const address of header.split(/[\s,]+/)) if (isEmailAddress(address)) recipients.add(address.toLowerCase());
  const status = /^status:\s*([245]\.\d{1,3}\.\d{1,3})/im.exec(report)?.[1];
  return compact({ failedRecipients: recipients.size ? [...recipients] : undefined, status });
}

/*
 * Fallback for HTML-only mail that mailparser leaves without text (it does for spam.eml, whose
 * text/html part carries a bogus boundary parameter). Good enough for search and previews;
 * the HTML itself is stored untouched.
 */
export function htmlToText(html: string): string {
  // Every pattern here runs in linear time: mail is hostile input, and a backtracking pattern
  // such as /<[^>]*>/ over 100 KB of '<' takes seconds of the event loop.
  const stripped = dropInvisibleElements(dropComments(html))
    .replace(/<br\b[^<>]*>/gi, '\n')
    .replace(/<\/(?:p|div|li|tr|h[1-6]|blockquote|table)\s*>/gi, '\n')
    .replace(/<[^<>]*>/g, '');
  return trimLineEnds(decodeEntities(stripped))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** `<!-- … -->` removed; an unclosed comment runs to the end, as it does in a browser. */
function dropComments(html: string): string {
  let out = '';
  let from = 0;
  for (let open = html.indexOf('<!--'); open !== -1; open = html.indexOf('<!--', from)) {
    out += html.slice(from, open);
    const close = html.indexOf('-->', open + 4);
    if (close === -1) return out;
    from = close + 3;
  }
  return out + html.slice(from);
}

/**
 * head, style, script and title elements removed with their content. An element without its
 * closing tag is left for the tag stripper (only its tag goes); the search for each closing tag
 * is remembered, so 20,000 unclosed `<style` cost one scan, not 20,000.
 */
function dropInvisibleElements(html: string): string {
  const lower = html.toLowerCase();
  const nextClose = new Map<string, number>();
  let out = '';
  let from = 0;
  for (const open of html.matchAll(/<(head|style|script|title)\b/gi)) {
    if (open.index < from) continue;
    const name = open[1]!.toLowerCase();
    let close = nextClose.get(name);
    if (close === undefined || (close !== -1 && close < open.index)) {
      close = lower.indexOf(`</${name}`, open.index);
      nextClose.set(name, close);
    }
    if (close === -1) continue;
    const end = lower.indexOf('>', close);
    if (end === -1) break; // no '>' after this closing tag, so after no later one either
    out += html.slice(from, open.index);
    from = end + 1;
  }
  return out + html.slice(from);
}

/** Spaces, tabs and no-break spaces at the end of each line removed, in one pass. */
function trimLineEnds(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      let end = line.length;
      while (end > 0 && (line[end - 1] === ' ' || line[end - 1] === '\t' || line[end - 1] === '\u00a0')) end--;
      return line.slice(0, end);
    })
    .join('\n');
}

// HTML 4 Latin-1 entities, code points 160..255 in order.
const LATIN1_ENTITIES =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml';

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'",
  ndash: '–', mdash: '—', lsquo: '‘', rsquo: '’', sbquo: '‚', ldquo: '“', rdquo: '”', bdquo: '„',
  hellip: '…', euro: '€', bull: '•', trade: '™', zwnj: '\u200c', zwj: '\u200d', lrm: '\u200e', rlm: '\u200f',
  ...Object.fromEntries(LATIN1_ENTITIES.split(' ').map((name, i) => [name, String.fromCodePoint(160 + i)])),
};

function decodeEntities(text: string): string {
  return text.replace(/&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z][a-z0-9]{1,31});/gi, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
      return valid ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[ref] ?? whole;
  });
}
