import { PermanentSendError, type ChannelSender, type OutboundMessage, type SendResult } from '../channel.sender.js';
import { PartProgress, splitText } from '../twitter/twitter.sender.js';

export interface FacebookSenderOptions {
  /** https://graph.facebook.com/v21.0 in production; a local server in tests. */
  graphUrl: string;
  pageAccessToken: string;
  /**
   * Answer 24 h–7 days after the customer's last message with the HUMAN_AGENT tag. Only for
   * apps Meta granted the Human Agent permission; without it Graph refuses every such send.
   */
  humanAgentTag?: boolean;
  now?: () => Date;
}

const HOUR = 3_600_000;
const STANDARD_WINDOW_MS = 24 * HOUR;
const HUMAN_AGENT_WINDOW_MS = 7 * 24 * HOUR;
// "UTF-8 and under 2000 characters"; UTF-16 units are never fewer than characters, so safe.
const MESSENGER_TEXT_LIMIT = 1999;
const MAX_MESSENGER_PARTS = 5;
// Larger than any complaint answer; Graph's own comment limit is not documented where we looked.
const COMMENT_TEXT_LIMIT = 8000;

/**
 * Messenger conversations are answered in Messenger (inside the window only), comments on
 * the Page's posts by a public reply under the customer's comment.
 */
export function createFacebookSender(opts: FacebookSenderOptions): ChannelSender {
  const base = opts.graphUrl.replace(/\/+$/, '');
  const now = opts.now ?? (() => new Date());
  const progress = new PartProgress();

  const post = async (path: string, body: string, contentType: string): Promise<Record<string, unknown>> => {
    const url = `${base}/${path}?access_token=${encodeURIComponent(opts.pageAccessToken)}`;
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body, signal: AbortSignal.timeout(20_000) });
    } catch (err) {
      throw new Error(`Graph API unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const json = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!response.ok || json?.error) throw graphError(response.status, json?.error as GraphErrorBody | undefined);
    return json ?? {};
  };

  async function sendMessenger(message: OutboundMessage, pageId: string, psid: string): Promise<SendResult> {
    const window = messagingWindow(message.lastInboundAt, now(), opts.humanAgentTag ?? false);
    if (window === 'closed') {
      throw new PermanentSendError(
        `The Messenger 24-hour window closed (the customer last wrote ${new Date(message.lastInboundAt!).toISOString()}): Facebook refuses replies after it; answer on another channel`,
        'messenger-window-closed',
      );
    }
    const parts = splitText(message.text, MESSENGER_TEXT_LIMIT, (s) => s.length);
    if (parts.length > MAX_MESSENGER_PARTS) {
      throw new PermanentSendError(`Too long for Messenger: more than ${MAX_MESSENGER_PARTS} messages of 2000 characters`, 'too-long');
    }
    const done = progress.get(message.outboxId);
    try {
      for (let i = done.length; i < parts.length; i++) {
        const json = await post(
          `${encodeURIComponent(pageId)}/messages`,
          JSON.stringify({
            recipient: { id: psid },
            ...(window === 'human-agent' ? { messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' } : { messaging_type: 'RESPONSE' }),
            // Comes back on the message_echoes webhook, so intake can tell our own sends apart.
            message: { text: parts[i], metadata: `outbox:${message.outboxId}` },
          }),
          'application/json',
        );
        if (typeof json.message_id !== 'string') throw new Error('Graph accepted the message but returned no message_id');
        done.push(json.message_id);
      }
    } catch (err) {
      if (err instanceof PermanentSendError) {
        progress.forget(message.outboxId);
        if (done.length > 0) err.message += ` (parts already delivered: ${done.join(', ')})`;
      }
      throw err;
    }
    progress.forget(message.outboxId);
    const [first, ...rest] = done;
    return { providerMessageId: first!, ...(rest.length > 0 ? { extraProviderMessageIds: rest } : {}) };
  }

  async function sendCommentReply(message: OutboundMessage): Promise<SendResult> {
    const commentId = message.thread.replyToProviderId;
    if (!commentId || !/^[\w.-]+$/.test(commentId)) {
      throw new PermanentSendError('A comment reply needs the id of the comment it answers', 'no-reply-target');
    }
    if (message.text.length > COMMENT_TEXT_LIMIT) {
      throw new PermanentSendError(`Too long for a Facebook comment (over ${COMMENT_TEXT_LIMIT} characters)`, 'too-long');
    }
    // Form-encoded, as every example of the /comments edge publishes; a reply to a comment is a comment on it.
    const json = await post(`${commentId}/comments`, new URLSearchParams({ message: message.text }).toString(), 'application/x-www-form-urlencoded');
    if (typeof json.id !== 'string') throw new Error('Graph accepted the comment but returned no id');
    return { providerMessageId: json.id };
  }

  return {
    channel: 'facebook',

    async send(message: OutboundMessage): Promise<SendResult> {
      if (!message.text.trim()) throw new PermanentSendError('The reply is empty', 'empty');
      const key = message.thread.conversationKey ?? '';
      if (key.startsWith('fbpost:')) return sendCommentReply(message);
      const [pageId, psid] = key.startsWith('fb:') ? key.slice(3).split(':') : message.to.address.split(':');
      if (!pageId || !psid) {
        throw new PermanentSendError(`Not a Messenger conversation: "${key || message.to.address}"`, 'invalid-recipient');
      }
      return sendMessenger(message, pageId, psid);
    },
  };
}

/**
 * Which Messenger window a reply falls in. An unknown last-inbound time is left to Graph
 * (it answers code 10 / 2018278 when the window is closed). The payload comes back from
 * jsonb, so the time may arrive as an ISO string rather than a Date.
 */
export function messagingWindow(lastInboundAt: Date | string | undefined, now: Date, humanAgentTag: boolean): 'standard' | 'human-agent' | 'closed' {
  if (lastInboundAt === undefined) return 'standard';
  const last = new Date(lastInboundAt).getTime();
  if (Number.isNaN(last)) return 'standard';
  const age = now.getTime() - last;
  if (age < STANDARD_WINDOW_MS) return 'standard';
  if (humanAgentTag && age < HUMAN_AGENT_WINDOW_MS) return 'human-agent';
  return 'closed';
}

interface GraphErrorBody {
  message?: unknown;
  type?: unknown;
  code?: unknown;
  error_subcode?: unknown;
  is_transient?: unknown;
  fbtrace_id?: unknown;
}

// Throttling (4 app, 17 user, 32 page, 613 custom, 80001–80014 business use case) and Graph's "try again" (1, 2).
const TRANSIENT_CODES = new Set([1, 2, 4, 17, 32, 341, 613]);

/**
 * Graph errors: 190 is a dead page token, 10/200/230/551/10900 say this person or this
 * message can't be reached; those and any other 4xx are final. Throttling, 5xx, and
 * anything Graph flags is_transient is retried.
 */
export function graphError(status: number, error: GraphErrorBody | undefined): Error {
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const subcode = typeof error?.error_subcode === 'number' ? error.error_subcode : undefined;
  const text = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
  const trace = typeof error?.fbtrace_id === 'string' ? `, fbtrace_id ${error.fbtrace_id}` : '';
  const message = `Facebook answered ${status}: ${text} (code ${code ?? '?'}${subcode ? `/${subcode}` : ''}${trace})`;

  if (code !== undefined && (TRANSIENT_CODES.has(code) || (code >= 80001 && code <= 80014))) return new Error(message);
  if (error?.is_transient === true || status >= 500 || status === 429) return new Error(message);
  if (code === 190) return new PermanentSendError(message, 'facebook-token-invalid');
  if (code === 10 && subcode === 2018278) return new PermanentSendError(message, 'messenger-window-closed');
  if (code === 551 || code === 230) return new PermanentSendError(message, 'facebook-recipient-unavailable');
  if (code === 10900) return new PermanentSendError(message, 'facebook-already-replied');
  return new PermanentSendError(message, 'facebook-rejected');
}
