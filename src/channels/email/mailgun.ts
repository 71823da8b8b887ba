import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { InvalidPayloadError } from '../channel.errors.js';
import type { AttachmentMeta, NormalizedInbound } from '../channel.types.js';
import { detectAutomated } from './email.automated.js';
import {
  bounceDetails,
  compact,
  dateHeader,
  htmlToText,
  isEmailAddress,
  parseEmail,
  resolveSender,
  returnedMessage,
  synthesizeMessageId,
  writtenAddresses,
} from './email.parser.js';
import { extractTicketNumber, normalizeMessageIds } from './email.threading.js';
import { authenticationHeaders } from './sender-auth.provider.js';

/**
 * Mailgun Routes forward(): the webhook signature and the two payload shapes (parsed fields, or
 * raw MIME in `body-mime` when the route URL ends in "mime"). See shared/channels.md §3b.
 */

export interface MailgunSignatureFields {
  timestamp: string;
  token: string;
  signature: string;
}

// Mailgun's clock and ours are both NTP-synced; a little skew is tolerated, a future date is not.
const MAX_FUTURE_SKEW_SEC = 60;

/**
 * hex(HMAC-SHA256(signing key, timestamp + token)) compared in constant time, and the signature
 * no older than maxAgeSec. The signature does not cover the content, so this alone lets a
 * captured signature carry other content: the webhook route also claims the token
 * (mailgunContentDigest, webhook_tokens), and the token cache makes the replay protection.
 */
export function verifyMailgunSignature(
  fields: MailgunSignatureFields,
  signingKey: string,
  now: Date,
  maxAgeSec: number,
): boolean {
  const { timestamp, token, signature } = fields;
  if (typeof timestamp !== 'string' || typeof token !== 'string' || typeof signature !== 'string') return false;
  if (!signingKey || !/^\d{1,12}$/.test(timestamp) || token.length === 0) return false;
  const ageSec = now.getTime() / 1000 - Number(timestamp);
  if (ageSec > maxAgeSec || ageSec < -MAX_FUTURE_SKEW_SEC) return false;
  // Buffer.from(..., 'hex') silently drops bad digits, so the shape is checked first.
  if (!/^[0-9a-f]{64}$/i.test(signature)) return false;
  const expected = createHmac('sha256', signingKey).update(timestamp + token).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

export interface MailgunAttachment {
  filename: string | null;
  contentType: string;
  content: Buffer;
}

const headerPairs = z.array(z.tuple([z.string(), z.string()]));

const formSchema = z.object({
  from: z.string({ error: 'from is required' }),
  sender: z.string({ error: 'sender is required' }),
  subject: z.string().optional(),
  recipient: z.string().optional(),
  'body-plain': z.string().optional(),
  'body-html': z.string().optional(),
  'message-headers': z.string().optional(),
});

// These change on every delivery attempt, so they must not feed the dedup key.
const VOLATILE_FIELDS = new Set(['timestamp', 'token', 'signature']);

export async function parseMailgunForm(
  fields: Record<string, string>,
  attachments: MailgunAttachment[] = [],
  opts: { receivedAt: Date },
): Promise<NormalizedInbound> {
  const bodyMime = fields['body-mime'];
  if (typeof bodyMime === 'string' && bodyMime.length > 0) {
    const parsed = await parseEmail(Buffer.from(bodyMime, 'utf8'), opts);
    const extra = attachments.map(toMeta).filter((a) => !parsed.attachments.some((p) => p.checksum === a.checksum));
    const recipient = fields.recipient;
    return {
      ...parsed,
      attachments: [...parsed.attachments, ...extra],
      providerData: { ...parsed.providerData, ...(recipient ? { recipient } : {}) },
    };
  }

  const form = validate(fields);
  const headers = headerMap(form['message-headers']);
  // Mailgun's `sender` is the SMTP MAIL FROM, i.e. what becomes Return-Path ("" for a bounce).
  const envelope = form.sender.replace(/^\s*<|>\s*$/g, '').trim().toLowerCase();
  // The form fields stand in for headers missing from message-headers.
  if (!headers.has('from')) headers.set('from', [form.from]);
  if (!headers.has('return-path')) headers.set('return-path', [`<${envelope}>`]);
  const metas = attachments.map(toMeta);
  const automated = detectAutomated(headers, undefined, {
    deliveryStatusPart: attachments.some((a) => a.contentType === 'message/delivery-status'),
  });
  const messageIdHeader = normalizeMessageIds(first(headers, 'message-id'))[0];
  const referenced = normalizeMessageIds([
    ...normalizeMessageIds(all(headers, 'in-reply-to')),
    ...normalizeMessageIds(all(headers, 'references')),
  ]);
  const subject = form.subject ?? first(headers, 'subject');
  let ticketNumber = extractTicketNumber(subject);
  const text = form['body-plain'] || (form['body-html'] ? htmlToText(form['body-html']) : '');

  let bounce: Record<string, unknown> | undefined;
  if (automated === 'bounce') {
    const original = await returnedMessage(attachments, text, messageIdHeader);
    if (original.messageId && !referenced.includes(original.messageId)) referenced.push(original.messageId);
    ticketNumber ??= extractTicketNumber(original.subject);
    bounce = bounceDetails(attachments, first(headers, 'x-failed-recipients'));
  }

  const { sender, originalFrom, verified } = resolveSender({
    from: all(headers, 'from'),
    replyTo: all(headers, 'reply-to'),
    originalSender: first(headers, 'x-original-sender'),
    returnPath: isEmailAddress(envelope) ? [envelope] : [],
    automated,
  });
  const otherIdentities = all(headers, 'reply-to')
    .flatMap(writtenAddresses)
    .filter((a) => a.address !== sender.address)
    .map((a) => ({ kind: 'email' as const, address: a.address, displayName: a.name || undefined }));

  return {
    channel: 'email',
    providerMessageId: messageIdHeader ?? synthesizeMessageId(stableFormDigest(fields, metas)),
    kind: 'message',
    sender,
    ...(verified ? {} : { senderVerified: false as const }),
    otherIdentities: otherIdentities.length ? otherIdentities : undefined,
    thread: { referencedMessageIds: referenced.length ? referenced : undefined, ticketNumber },
    subject: subject || undefined,
    text,
    html: form['body-html'] || undefined,
    attachments: metas,
    sentAt: dateHeader(first(headers, 'date'), opts.receivedAt),
    automated,
    messageIdHeader,
    // Mailgun's verdicts (X-Mailgun-Spf, X-Mailgun-Dkim-Check-Result), relays' Authentication-Results
    // and the DKIM signatures, for sender authentication at intake (issue 19).
    providerData: compact({ recipient: form.recipient, originalFrom, bounce, authHeaders: authenticationHeaders(headers, envelope) }),
  };
}

function validate(fields: Record<string, string>): z.infer<typeof formSchema> {
  const result = formSchema.safeParse(fields);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = String(issue?.path[0] ?? 'body');
  throw new InvalidPayloadError(field, issue?.message ?? `invalid field ${field}`);
}

/** message-headers is a JSON list of [name, value] pairs in message order; names are folded to lower case. */
function headerMap(json: string | undefined): Map<string, string[]> {
  const map = new Map<string, string[]>();
  if (json === undefined || json.trim() === '') return map;
  let pairs: [string, string][];
  try {
    pairs = headerPairs.parse(JSON.parse(json));
  } catch {
    throw new InvalidPayloadError('message-headers', 'message-headers must be a JSON array of [name, value] pairs');
  }
  for (const [name, value] of pairs) {
    const key = name.trim().toLowerCase();
    map.set(key, [...(map.get(key) ?? []), value]);
  }
  return map;
}

function first(headers: Map<string, string[]>, key: string): string | undefined {
  return headers.get(key)?.[0];
}

function all(headers: Map<string, string[]>, key: string): string[] {
  return headers.get(key) ?? [];
}

function toMeta(a: MailgunAttachment): AttachmentMeta {
  return {
    filename: a.filename || null,
    contentType: a.contentType || 'application/octet-stream',
    size: a.content.length,
    inline: false,
    content: a.content,
    checksum: createHash('sha256').update(a.content).digest('hex'),
  };
}

/**
 * What a Mailgun signature token is bound to: every field but the signature block, and each
 * attachment's name, media type and bytes, in order. The name and type are content too: the same
 * bytes re-posted as `x.html; text/html` would reach an agent as another file, so a captured
 * signature must not carry them. A redelivery of the same message digests the same whatever its
 * multipart encoding (boundary, part headers' spelling).
 */
export function mailgunContentDigest(fields: Record<string, string>, attachments: MailgunAttachment[]): string {
  const stable = Object.keys(fields)
    .filter((k) => !VOLATILE_FIELDS.has(k))
    .sort()
    .map((k) => [k, fields[k]]);
  const files = attachments.map(toMeta).map((a) => [a.filename, a.contentType, a.checksum]);
  return createHash('sha256').update(JSON.stringify({ fields: stable, attachments: files })).digest('hex');
}

/** The same message re-posted by a Mailgun retry hashes the same; the signature fields are left out. */
function stableFormDigest(fields: Record<string, string>, attachments: AttachmentMeta[]): string {
  const stable = Object.keys(fields)
    .filter((k) => !VOLATILE_FIELDS.has(k))
    .sort()
    .map((k) => [k, fields[k]]);
  return JSON.stringify({ fields: stable, attachments: attachments.map((a) => a.checksum) });
}
