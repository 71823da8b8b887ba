import { z } from 'zod';
import type { AttachmentMeta, NormalizedInbound, SenderIdentity } from '../channel.types.js';
import { InvalidPayloadError } from '../channel.errors.js';
import { extractIdentitiesFromText } from '../identity.js';
import { detectLanguage } from '../language.js';
import { plausibleDate } from '../provider-date.js';
import { parsePayload } from '../signature.js';

export interface TwitterParseResult {
  messages: NormalizedInbound[];
  skipped: { reason: string; ref?: string }[];
}

export interface TwitterParseOptions {
  receivedAt: Date;
  /** When set, phone numbers and e-mail addresses typed into messages become otherIdentities. */
  defaultRegion?: string;
}

// Only the *_str ids are read anywhere: the numeric twins exceed 2^53 and arrive corrupted.
const mediaSchema = z.object({
  media_url_https: z.string().optional(),
  url: z.string().optional(),
  type: z.string().optional(),
  video_info: z
    .object({
      variants: z.array(z.object({ bitrate: z.number().optional(), content_type: z.string(), url: z.string() })),
    })
    .optional(),
});
type Media = z.infer<typeof mediaSchema>;

const dmEventSchema = z.object({
  type: z.string(),
  id: z.string().min(1),
  created_timestamp: z.string().optional(),
  message_create: z
    .object({
      sender_id: z.string().min(1),
      target: z.object({ recipient_id: z.string() }).optional(),
      source_app_id: z.string().optional(),
      message_data: z.object({
        text: z.string().optional(),
        // A single object on the wire (Zammad fixtures); an array in some third-party fakes.
        attachment: z.object({ media: z.union([mediaSchema, z.array(mediaSchema)]) }).nullish(),
      }),
    })
    .optional(),
});

const tweetSchema = z.object({
  id_str: z.string().min(1),
  text: z.string().optional(),
  full_text: z.string().optional(),
  extended_tweet: z
    .object({
      full_text: z.string().optional(),
      extended_entities: z.object({ media: z.array(mediaSchema) }).nullish(),
    })
    .nullish(),
  extended_entities: z.object({ media: z.array(mediaSchema) }).nullish(),
  user: z.object({ id_str: z.string().min(1), screen_name: z.string().optional(), name: z.string().optional() }),
  in_reply_to_status_id_str: z.string().nullish(),
  in_reply_to_user_id_str: z.string().nullish(),
  retweeted_status: z.unknown().optional(),
  is_quote_status: z.boolean().optional(),
  timestamp_ms: z.string().optional(),
});

const webhookSchema = z.looseObject({
  for_user_id: z.string().min(1),
  direct_message_events: z.array(dmEventSchema).optional(),
  tweet_create_events: z.array(tweetSchema).optional(),
  users: z.record(z.string(), z.object({ name: z.string().optional(), screen_name: z.string().optional() })).optional(),
});

const HANDLED = new Set(['for_user_id', 'direct_message_events', 'tweet_create_events', 'users', 'apps', 'user_has_blocked']);

/**
 * Account Activity API delivery → normalized messages. Our own DMs and tweets come back through
 * the same webhook; they are skipped here so that they never open a ticket.
 */
export function parseTwitterWebhook(body: unknown, opts: TwitterParseOptions): TwitterParseResult {
  const payload = parsePayload(webhookSchema, body);
  const forUser = payload.for_user_id;
  const out: TwitterParseResult = { messages: [], skipped: [] };

  payload.direct_message_events?.forEach((event, i) => {
    if (event.type !== 'message_create') {
      out.skipped.push({ reason: `dm_${event.type}`, ref: `dm:${event.id}` });
      return;
    }
    const create = event.message_create;
    if (!create) {
      const field = `direct_message_events[${i}].message_create`;
      throw new InvalidPayloadError(field, `${field}: required for a message_create event`);
    }
    if (create.sender_id === forUser) {
      out.skipped.push({ reason: 'own_message', ref: `dm:${event.id}` });
      return;
    }
    const rawMedia = create.message_data.attachment?.media;
    const media = rawMedia === undefined ? [] : Array.isArray(rawMedia) ? rawMedia : [rawMedia];
    const text = withoutMediaLinks(create.message_data.text ?? '', media);
    const user = payload.users?.[create.sender_id];
    out.messages.push({
      channel: 'twitter',
      providerMessageId: `dm:${event.id}`,
      kind: 'message',
      sender: { kind: 'twitter', address: create.sender_id, displayName: user?.name, handle: user?.screen_name },
      otherIdentities: typedIdentities(text, opts),
      thread: { conversationKey: `xdm:${forUser}:${create.sender_id}` },
      text,
      attachments: media.flatMap(mediaAttachment),
      sentAt: plausibleDate(msString(event.created_timestamp), opts.receivedAt),
      language: detectLanguage(text),
      providerData: { forUserId: forUser, recipientId: create.target?.recipient_id, sourceAppId: create.source_app_id },
    });
  });

  for (const tweet of payload.tweet_create_events ?? []) {
    const ref = `tweet:${tweet.id_str}`;
    if (tweet.user.id_str === forUser) {
      out.skipped.push({ reason: 'own_tweet', ref });
      continue;
    }
    if (tweet.retweeted_status != null) {
      // A retweet repeats someone else's words (usually ours); nothing for an agent to answer.
      out.skipped.push({ reason: 'retweet', ref });
      continue;
    }
    const media = tweet.extended_tweet?.extended_entities?.media ?? tweet.extended_entities?.media ?? [];
    const text = withoutMediaLinks(tweet.extended_tweet?.full_text ?? tweet.full_text ?? tweet.text ?? '', media);
    out.messages.push({
      channel: 'twitter',
      providerMessageId: ref,
      kind: 'message',
      sender: { kind: 'twitter', address: tweet.user.id_str, displayName: tweet.user.name, handle: tweet.user.screen_name },
      otherIdentities: typedIdentities(text, opts),
      thread: {
        // Public mentions thread onto the customer's open ticket, whichever tweet they answer.
        conversationKey: `xtw:${forUser}:${tweet.user.id_str}`,
        inReplyToProviderId: tweet.in_reply_to_status_id_str ?? undefined,
      },
      text,
      attachments: media.flatMap(mediaAttachment),
      sentAt: plausibleDate(msString(tweet.timestamp_ms), opts.receivedAt),
      language: detectLanguage(text),
      providerData: {
        forUserId: forUser,
        inReplyToUserId: tweet.in_reply_to_user_id_str ?? undefined,
        ...(tweet.is_quote_status ? { quote: true } : {}),
      },
    });
  }

  // favorite_events, follow_events, direct_message_indicate_typing_events, …: reported, not parsed.
  for (const [key, value] of Object.entries(payload)) {
    if (HANDLED.has(key)) continue;
    const items = Array.isArray(value) ? value : [value];
    for (const item of items) out.skipped.push({ reason: key, ref: refOf(item) });
  }
  return out;
}

function mediaAttachment(media: Media): AttachmentMeta[] {
  // For videos and GIFs media_url_https is only a still preview; the playable file is the
  // best-bitrate MP4 variant.
  const variants = (media.video_info?.variants ?? []).filter((v) => v.content_type.startsWith('video/'));
  const best = variants.sort((a, b) => (b.bitrate ?? 0) - (a.bitrate ?? 0))[0];
  if (best) return [{ filename: fileName(best.url), contentType: best.content_type, size: 0, url: best.url }];
  const url = media.media_url_https;
  if (!url) return [];
  const ext = /\.(\w+)$/.exec(fileName(url) ?? '')?.[1]?.toLowerCase();
  const contentType = ext === 'png' ? 'image/png' : ext === 'gif' ? 'image/gif' : ext === 'webp' ? 'image/webp' : 'image/jpeg';
  return [{ filename: fileName(url), contentType, size: 0, url }];
}

/** The t.co link X appends for each attached medium is noise once the medium is an attachment. */
function withoutMediaLinks(text: string, media: Media[]): string {
  let result = text;
  for (const m of media) if (m.url) result = result.split(m.url).join('');
  return result.trim();
}

function fileName(url: string): string | null {
  try {
    return new URL(url).pathname.split('/').pop() || null;
  } catch {
    return null;
  }
}

function msString(value: string | undefined): Date | undefined {
  if (!value || !/^\d+$/.test(value)) return undefined;
  return new Date(Number(value));
}

function refOf(item: unknown): string | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const id = (item as Record<string, unknown>)['id_str'] ?? (item as Record<string, unknown>)['id'];
  return typeof id === 'string' ? id : undefined;
}

function typedIdentities(text: string, opts: TwitterParseOptions): SenderIdentity[] | undefined {
  if (!opts.defaultRegion || !text) return undefined;
  const found = extractIdentitiesFromText(text, opts.defaultRegion);
  return found.length > 0 ? found : undefined;
}
