import { z } from 'zod';
import type { AttachmentMeta, NormalizedInbound, SenderIdentity } from '../channel.types.js';
import { InvalidPayloadError } from '../channel.errors.js';
import { extractIdentitiesFromText } from '../identity.js';
import { detectLanguage } from '../language.js';
import { plausibleDate } from '../provider-date.js';
import { parsePayload } from '../signature.js';

export interface SkippedEvent {
  reason: string;
  ref?: string;
}

export interface FacebookParseResult {
  messages: NormalizedInbound[];
  skipped: SkippedEvent[];
}

export interface FacebookParseOptions {
  /** Our app id: echoes carrying it are our own Send API calls. */
  appId?: string;
  receivedAt: Date;
  /** When set, phone numbers and e-mail addresses typed into messages become otherIdentities. */
  defaultRegion?: string;
}

// Graph ids are strings on the wire, but `app_id` arrives as a JSON number; ids beyond 2^53
// would already have lost digits in JSON.parse, so they are refused rather than mis-stored.
const fbId = z
  .union([z.string().min(1), z.number().int().nonnegative().refine(Number.isSafeInteger, 'id exceeds 2^53')])
  .transform(String);

const attachmentSchema = z.object({
  type: z.string().min(1),
  payload: z.object({ url: z.string().optional() }).nullish(),
});

const messageSchema = z.object({
  mid: z.string().min(1),
  text: z.string().optional(),
  is_echo: z.boolean().optional(),
  app_id: fbId.nullish(),
  metadata: z.string().optional(),
  is_deleted: z.boolean().optional(),
  reply_to: z.object({ mid: z.string().min(1) }).nullish(),
  quick_reply: z.object({ payload: z.string() }).nullish(),
  attachments: z.array(attachmentSchema).optional(),
});

const messagingEventSchema = z.looseObject({
  // Absent on a few events (an opt-in carrying only user_ref); required below for messages.
  sender: z.object({ id: fbId }).optional(),
  recipient: z.object({ id: fbId }).optional(),
  timestamp: z.number().optional(),
  message: messageSchema.optional(),
});

const entrySchema = z.object({
  // Required for Messenger events (checked there); feed changes can fall back on post_id.
  id: fbId.optional(),
  time: z.number().optional(),
  messaging: z.array(messagingEventSchema).optional(),
  standby: z.array(messagingEventSchema).optional(),
  changes: z.array(z.object({ field: z.string(), value: z.unknown() })).optional(),
});

const envelopeSchema = z.object({
  object: z.literal('page'),
  entry: z.array(entrySchema),
});

const feedValueSchema = z.looseObject({ item: z.string().optional(), verb: z.string().optional() });

const feedCommentSchema = z.object({
  comment_id: z.string().min(1),
  post_id: z.string().min(1),
  parent_id: z.string().nullish(),
  from: z.object({ id: fbId, name: z.string().optional() }).nullish(),
  message: z.string().optional(),
  created_time: z.union([z.number(), z.string()]).optional(),
  photo: z.string().optional(),
  video: z.string().optional(),
});

type MessagingEvent = z.infer<typeof messagingEventSchema>;

/** Event keys that identify non-message Messenger events; the key doubles as the skip reason. */
const OTHER_EVENTS = [
  'delivery', 'read', 'postback', 'reaction', 'optin', 'referral', 'account_linking',
  'pass_thread_control', 'take_thread_control', 'request_thread_control', 'app_roles',
  'policy_enforcement', 'message_edit', 'game_play', 'checkout_update', 'payment',
] as const;

/**
 * Messenger (and Page feed) webhook → normalized messages. One delivery may batch several
 * entries and events; everything not turned into a message is reported in `skipped`.
 */
export function parseFacebookWebhook(body: unknown, opts: FacebookParseOptions): FacebookParseResult {
  const envelope = parsePayload(envelopeSchema, body);
  const result: FacebookParseResult = { messages: [], skipped: [] };

  envelope.entry.forEach((entry, e) => {
    for (const list of ['messaging', 'standby'] as const) {
      const events = entry[list];
      if (!events?.length) continue;
      if (entry.id === undefined) throw new InvalidPayloadError(`entry[${e}].id`, `entry[${e}].id: required with ${list}`);
      const pageId = entry.id;
      events.forEach((event, i) => {
        handleMessagingEvent(event, `entry[${e}].${list}[${i}]`, pageId, list === 'standby', opts, result);
      });
    }
    entry.changes?.forEach((change, c) => {
      handleChange(change, `entry[${e}].changes[${c}]`, entry.id, opts, result);
    });
  });
  return result;
}

function handleMessagingEvent(
  event: MessagingEvent,
  path: string,
  pageId: string,
  standby: boolean,
  opts: FacebookParseOptions,
  out: FacebookParseResult,
): void {
  const message = event.message;
  if (!message) {
    const kind = OTHER_EVENTS.find((key) => key in event) ?? 'unsupported_event';
    out.skipped.push({ reason: kind, ref: event.sender ? `${pageId}:${event.sender.id}` : undefined });
    return;
  }
  if (message.is_echo) {
    const own = opts.appId !== undefined && message.app_id === opts.appId;
    out.skipped.push({ reason: own ? 'own_echo' : 'echo', ref: message.mid });
    return;
  }
  if (!event.sender) throw new InvalidPayloadError(`${path}.sender.id`, `${path}.sender.id: required on a message`);
  const psid = event.sender.id;
  if (psid === pageId) {
    // A page-authored message that is not flagged as an echo: never a customer's.
    out.skipped.push({ reason: 'sent_by_page', ref: message.mid });
    return;
  }
  if (message.is_deleted) {
    out.skipped.push({ reason: 'message_deleted', ref: message.mid });
    return;
  }

  const text = message.text ?? '';
  const attachments = (message.attachments ?? []).flatMap((a) => {
    const url = a.payload?.url;
    return url ? [attachmentFromUrl(url, contentTypeFor(a.type, url))] : [];
  });
  if (text.trim() === '' && attachments.length === 0) {
    out.skipped.push({ reason: 'empty_message', ref: message.mid });
    return;
  }

  out.messages.push({
    channel: 'facebook',
    providerMessageId: message.mid,
    kind: 'message',
    sender: { kind: 'facebook', address: `${pageId}:${psid}` },
    otherIdentities: typedIdentities(text, opts),
    thread: {
      conversationKey: `fb:${pageId}:${psid}`,
      inReplyToProviderId: message.reply_to?.mid,
    },
    text,
    attachments,
    sentAt: plausibleDate(msDate(event.timestamp), opts.receivedAt),
    language: detectLanguage(text),
    providerData: {
      pageId,
      ...(standby ? { standby: true } : {}),
      ...(message.quick_reply ? { quickReplyPayload: message.quick_reply.payload } : {}),
    },
  });
}

function handleChange(
  change: { field: string; value: unknown },
  path: string,
  entryId: string | undefined,
  opts: FacebookParseOptions,
  out: FacebookParseResult,
): void {
  if (change.field !== 'feed') {
    out.skipped.push({ reason: 'unsupported_field', ref: change.field });
    return;
  }
  const value = parsePayload(feedValueSchema, change.value, `${path}.value`);
  if (value.item !== 'comment') {
    out.skipped.push({ reason: 'feed_not_comment', ref: value.item });
    return;
  }
  const comment = parsePayload(feedCommentSchema, value, `${path}.value`);
  if (value.verb !== 'add') {
    // Edits and removals: verb spellings other than "add" are unconfirmed, so none is acted on.
    out.skipped.push({ reason: 'feed_comment_not_added', ref: comment.comment_id });
    return;
  }
  const pageId = entryId ?? comment.post_id.split('_')[0] ?? comment.post_id;
  if (!comment.from) {
    // Meta omits `from` when it may not disclose the commenter; no identity, no ticket.
    out.skipped.push({ reason: 'comment_without_sender', ref: comment.comment_id });
    return;
  }
  if (comment.from.id === pageId) {
    out.skipped.push({ reason: 'page_comment', ref: comment.comment_id });
    return;
  }

  const attachments: AttachmentMeta[] = [];
  if (comment.photo) attachments.push(attachmentFromUrl(comment.photo, contentTypeFor('image', comment.photo)));
  if (comment.video) attachments.push(attachmentFromUrl(comment.video, contentTypeFor('video', comment.video)));
  const text = comment.message ?? '';
  const parentId = comment.parent_id ?? undefined;

  out.messages.push({
    channel: 'facebook',
    providerMessageId: comment.comment_id,
    kind: 'message',
    sender: { kind: 'facebook', address: `${pageId}:${comment.from.id}`, displayName: comment.from.name },
    otherIdentities: typedIdentities(text, opts),
    thread: {
      conversationKey: `fbpost:${comment.post_id}`,
      inReplyToProviderId: parentId && parentId !== comment.post_id ? parentId : undefined,
    },
    text,
    attachments,
    sentAt: plausibleDate(secondsDate(comment.created_time), opts.receivedAt),
    language: detectLanguage(text),
    providerData: { pageId, postId: comment.post_id, feedComment: true },
  });
}

function typedIdentities(text: string, opts: FacebookParseOptions): SenderIdentity[] | undefined {
  if (!opts.defaultRegion || !text) return undefined;
  const found = extractIdentitiesFromText(text, opts.defaultRegion);
  return found.length > 0 ? found : undefined;
}

const EXTENSION_TYPES: Record<string, string> = {
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', gif: 'image/gif', webp: 'image/webp',
  mp4: 'video/mp4', mov: 'video/quicktime', mp3: 'audio/mpeg', m4a: 'audio/mp4', aac: 'audio/aac',
  wav: 'audio/wav', ogg: 'audio/ogg', pdf: 'application/pdf',
};

/**
 * Messenger gives only a coarse type; the CDN URL's extension, when it agrees with that type,
 * gives the real subtype. Otherwise "image/*" and friends say what is known without inventing.
 */
export function contentTypeFor(type: string, url: string): string {
  const major = type === 'image' || type === 'video' || type === 'audio' ? type : undefined;
  const fromExtension = EXTENSION_TYPES[extensionOf(url) ?? ''];
  if (major) return fromExtension?.startsWith(`${major}/`) ? fromExtension : `${major}/*`;
  return type === 'file' && fromExtension ? fromExtension : 'application/octet-stream';
}

function attachmentFromUrl(url: string, contentType: string): AttachmentMeta {
  const name = lastPathSegment(url);
  return { filename: name && extensionOf(url) ? name : null, contentType, size: 0, url };
}

function lastPathSegment(url: string): string | undefined {
  try {
    const segment = new URL(url).pathname.split('/').pop();
    return segment ? decodeURIComponent(segment) : undefined;
  } catch {
    return undefined;
  }
}

function extensionOf(url: string): string | undefined {
  return /\.([a-z0-9]{2,5})$/i.exec(lastPathSegment(url) ?? '')?.[1]?.toLowerCase();
}

function msDate(ms: number | undefined): Date | undefined {
  if (ms === undefined || !Number.isFinite(ms) || ms <= 0) return undefined;
  return new Date(ms);
}

function secondsDate(value: number | string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && !/^\d+$/.test(value)) {
    const parsed = new Date(value);
    return Number.isNaN(parsed.getTime()) ? undefined : parsed;
  }
  const n = Number(value);
  // Feed times are seconds; a millisecond value (≥ 1e11, i.e. past year 5000 as seconds) is
  // taken as it is rather than landing millennia in the future.
  return msDate(n >= 1e11 ? n : n * 1000);
}
