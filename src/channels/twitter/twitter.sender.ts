import { PermanentSendError, type ChannelSender, type OutboundMessage, type SendResult } from '../channel.sender.js';

export interface TwitterSenderOptions {
  /** https://api.x.com in production; a local server in tests. */
  apiUrl: string;
  /** OAuth 2.0 user-context token of our account (dm.write, tweet.write). */
  bearerToken: string;
}

const DM_LIMIT = 10_000;
const TWEET_LIMIT = 280;
const MAX_THREAD_PARTS = 5;
// " (5/5)": the numbering every part of a thread carries, reserved before splitting.
const PART_SUFFIX_LENGTH = 6;

/**
 * Answers where the customer wrote: a DM conversation by DM, a public mention by a public
 * reply. A reply too long for one tweet becomes a short numbered thread under the mention.
 */
export function createTwitterSender(opts: TwitterSenderOptions): ChannelSender {
  const base = opts.apiUrl.replace(/\/+$/, '');
  const progress = new PartProgress();

  const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.bearerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(20_000),
      });
    } catch (err) {
      throw new Error(`X API unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const json = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!response.ok) throw xApiError(response.status, json);
    return json ?? {};
  };

  return {
    channel: 'twitter',

    async send(message: OutboundMessage): Promise<SendResult> {
      const key = message.thread.conversationKey ?? '';
      const text = message.text.trim();
      if (!text) throw new PermanentSendError('The reply is empty', 'empty');

      if (key.startsWith('xdm:') || (!key && message.to.kind === 'twitter')) {
        const theirId = key ? key.split(':')[2] : message.to.address;
        if (!theirId || !/^\d+$/.test(theirId)) throw new PermanentSendError(`No X user id in "${key}"`, 'invalid-recipient');
        if ([...text].length > DM_LIMIT) {
          throw new PermanentSendError(`An X direct message holds at most ${DM_LIMIT} characters`, 'too-long');
        }
        const json = await post(`/2/dm_conversations/with/${theirId}/messages`, { text });
        const eventId = (json.data as { dm_event_id?: unknown } | undefined)?.dm_event_id;
        if (typeof eventId !== 'string') throw new Error('X accepted the DM but returned no dm_event_id');
        return { providerMessageId: `dm:${eventId}` };
      }

      if (key.startsWith('xtw:')) {
        const target = message.thread.replyToProviderId?.replace(/^tweet:/, '');
        if (!target || !/^\d+$/.test(target)) {
          throw new PermanentSendError('A public X reply needs the id of the tweet it answers', 'no-reply-target');
        }
        const parts = threadParts(text);
        const done = progress.get(message.outboxId);
        try {
          for (let i = done.length; i < parts.length; i++) {
            const json = await post('/2/tweets', { text: parts[i], reply: { in_reply_to_tweet_id: done[i - 1] ?? target } });
            const id = (json.data as { id?: unknown } | undefined)?.id;
            if (typeof id !== 'string') throw new Error('X accepted the tweet but returned no id');
            done.push(id);
          }
        } catch (err) {
          if (err instanceof PermanentSendError) {
            progress.forget(message.outboxId);
            if (done.length > 0) err.message += ` (parts already posted: ${done.join(', ')})`;
          }
          throw err;
        }
        progress.forget(message.outboxId);
        const [first, ...rest] = done.map((id) => `tweet:${id}`);
        return { providerMessageId: first!, ...(rest.length > 0 ? { extraProviderMessageIds: rest } : {}) };
      }

      throw new PermanentSendError(`Not an X conversation: "${key}"`, 'invalid-recipient');
    },
  };
}

/** The text as tweets: itself when it fits, else up to five parts numbered " (i/n)". */
export function threadParts(text: string): string[] {
  if (tweetLength(text) <= TWEET_LIMIT) return [text];
  const parts = splitText(text, TWEET_LIMIT - PART_SUFFIX_LENGTH, tweetLength);
  if (parts.length > MAX_THREAD_PARTS) {
    throw new PermanentSendError(
      `Too long for X: a public reply may run to ${MAX_THREAD_PARTS} tweets; shorten it or answer by DM`,
      'too-long',
    );
  }
  return parts.map((p, i) => `${p} (${i + 1}/${parts.length})`);
}

/*
 * X's weighted count (twitter-text v3 configuration): code points in Latin, Hebrew, Arabic,
 * Cyrillic and general punctuation weigh 1, everything else (CJK, emoji) 2, and a URL
 * counts 23 whatever its length, as t.co rewrites it. X counts the NFC form. Emoji ZWJ
 * sequences, which X counts as one emoji, are over-counted here: that splits early, never late.
 */
const LIGHT_RANGES: [number, number][] = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];
const URL = /\bhttps?:\/\/\S+/gi;

export function tweetLength(text: string): number {
  let length = 0;
  const withoutUrls = text.normalize('NFC').replace(URL, () => {
    length += 23;
    return '';
  });
  for (const ch of withoutUrls) {
    const cp = ch.codePointAt(0)!;
    length += LIGHT_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi) ? 1 : 2;
  }
  return length;
}

// Boundaries to cut at, best first; a cut is only taken if it keeps at least half a part.
const BOUNDARIES = [/\n[ \t]*\n\s*/g, /\n\s*/g, /(?<=[.!?…。！？؟])\s+/g, /\s+/g];

/**
 * Splits text into parts each within `limit` by `measure`, preferring paragraph, then line,
 * then sentence, then word boundaries; a single unbroken run longer than a part is cut hard
 * at a code point. Also used for Messenger's 2000-character limit.
 */
export function splitText(text: string, limit: number, measure: (s: string) => number): string[] {
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > 0) {
    if (measure(rest) <= limit) {
      parts.push(rest);
      break;
    }
    const cut = bestCut(rest, limit, measure);
    parts.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  return parts;
}

function bestCut(text: string, limit: number, measure: (s: string) => number): number {
  for (const [index, boundary] of BOUNDARIES.entries()) {
    let best = 0;
    for (const match of text.matchAll(boundary)) {
      if (match.index === 0) continue;
      if (measure(text.slice(0, match.index)) > limit) break;
      best = match.index + match[0].length;
    }
    const lastResort = index === BOUNDARIES.length - 1;
    if (best > 0 && (lastResort || measure(text.slice(0, best)) >= limit / 2)) return best;
  }
  let cut = 0;
  for (const ch of text) {
    if (measure(text.slice(0, cut + ch.length)) > limit) break;
    cut += ch.length;
  }
  return Math.max(cut, 1);
}

/**
 * Parts a provider already accepted for an outbox row, kept across a retry within this
 * process: resending part 1 would post it twice (X even refuses it as duplicate content and
 * the retry would go dead). Lost on restart, so a restart mid-thread can still repeat a part.
 */
export class PartProgress {
  private readonly byOutbox = new Map<string, string[]>();

  get(outboxId: string): string[] {
    let done = this.byOutbox.get(outboxId);
    if (!done) {
      done = [];
      this.byOutbox.set(outboxId, done);
      if (this.byOutbox.size > 1_000) this.byOutbox.delete(this.byOutbox.keys().next().value!);
    }
    return done;
  }

  forget(outboxId: string): void {
    this.byOutbox.delete(outboxId);
  }
}

interface XProblem {
  title?: unknown;
  detail?: unknown;
  errors?: { message?: unknown }[];
}

/**
 * v2 answers with a problem object ({title, detail, type, status}); the v1.1-style
 * {errors:[{message}]} still shows up on some routes. 429 and 5xx pass; 400/401/403/404
 * (bad token, missing scope, not allowed to reply, duplicate content) never will.
 */
function xApiError(status: number, body: XProblem | undefined): Error {
  const text = [body?.detail, body?.title, body?.errors?.[0]?.message].find((v) => typeof v === 'string') as string | undefined;
  const message = `X API answered ${status}${text ? `: ${text}` : ''}`;
  if (status === 429 || status === 408 || status >= 500) return new Error(message);
  if (status === 401 || status === 403) return new PermanentSendError(message, 'x-forbidden');
  return new PermanentSendError(message, 'x-rejected');
}
