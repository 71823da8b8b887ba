import { afterEach, describe, expect, it } from 'vitest';
import { PermanentSendError, type OutboundMessage } from '../../../../src/channels/channel.sender.js';
import { createTwitterSender, splitText, threadParts, tweetLength } from '../../../../src/channels/twitter/twitter.sender.js';
import { startLocalApi, type Reply, type RecordedRequest } from './local-http.js';

const US = '2975699229';
const THEM = '1205290247124217856';
const MENTION_ID = '1205348660982083584';

const apis: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const api of apis.splice(0)) await api.close();
});

async function setup(respond: (req: RecordedRequest, index: number) => Reply) {
  const api = await startLocalApi(respond);
  apis.push(api);
  return { api, sender: createTwitterSender({ apiUrl: api.url, bearerToken: 'user-context-token' }) };
}

const tweeted = (index: number): Reply => ({ status: 201, body: { data: { id: `190000000000000000${index}`, text: '…' } } });
const body = (req: RecordedRequest) => JSON.parse(req.body) as { text: string; reply?: { in_reply_to_tweet_id: string } };

const dm = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  outboxId: 'b0a7c9e2-0000-4000-8000-000000000002',
  ticketNumber: 7,
  channel: 'twitter',
  to: { kind: 'twitter', address: THEM, handle: 'pennbrooke1' },
  text: 'Hi! We have refunded your order.',
  thread: { conversationKey: `xdm:${US}:${THEM}` },
  ...over,
});

const mentionReply = (text: string, outboxId = 'b0a7c9e2-0000-4000-8000-000000000003'): OutboundMessage =>
  dm({ outboxId, text, thread: { conversationKey: `xtw:${US}:${THEM}`, replyToProviderId: `tweet:${MENTION_ID}` } });

// 600 characters: ten sentences of 59, the nine spaces between them, and a final "!".
const LONG = `${Array.from({ length: 10 }, (_, i) => `Sentence ${i} of our reply, padded out so it is 59 chars long.`).join(' ')}!`;

describe('createTwitterSender: DMs', () => {
  it('posts {text} to /2/dm_conversations/with/{their id}/messages with the bearer token', async () => {
    const { api, sender } = await setup(() => ({ status: 201, body: { data: { dm_conversation_id: `${US}-${THEM}`, dm_event_id: '1582838213423353861' } } }));
    const result = await sender.send(dm());

    expect(result).toEqual({ providerMessageId: 'dm:1582838213423353861' });
    const req = api.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/2/dm_conversations/with/${THEM}/messages`);
    expect(req.headers.authorization).toBe('Bearer user-context-token');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({ text: 'Hi! We have refunded your order.' });
  });

  it('refuses a DM over 10,000 characters without calling X', async () => {
    const { api, sender } = await setup(() => ({ body: {} }));
    await expect(sender.send(dm({ text: 'x'.repeat(10_001) }))).rejects.toMatchObject({ code: 'too-long' });
    expect(api.requests).toHaveLength(0);
  });
});

describe('createTwitterSender: public replies', () => {
  it('replies to the mention with reply.in_reply_to_tweet_id (the "tweet:" prefix stripped)', async () => {
    const { api, sender } = await setup((_req, i) => tweeted(i));
    const result = await sender.send(mentionReply('Sorry about that! Please check your DMs.'));
    expect(result).toEqual({ providerMessageId: 'tweet:1900000000000000000' });
    expect(api.requests[0]!.path).toBe('/2/tweets');
    expect(api.requests[0]!.headers.authorization).toBe('Bearer user-context-token');
    expect(body(api.requests[0]!)).toEqual({ text: 'Sorry about that! Please check your DMs.', reply: { in_reply_to_tweet_id: MENTION_ID } });
  });

  it('splits a 600-character reply into a numbered thread, each part answering the previous one', async () => {
    const { api, sender } = await setup((_req, i) => tweeted(i));
    expect(LONG).toHaveLength(600);
    const result = await sender.send(mentionReply(LONG));

    const posted = api.requests.map(body);
    expect(posted).toHaveLength(3);
    expect(posted.map((p) => p.text.slice(-6))).toEqual([' (1/3)', ' (2/3)', ' (3/3)']);
    expect(posted.every((p) => tweetLength(p.text) <= 280)).toBe(true);
    // Cut between sentences, and nothing lost.
    expect(posted.map((p) => p.text.replace(/ \(\d\/3\)$/, '')).join(' ')).toBe(LONG);
    expect(posted.map((p) => p.reply?.in_reply_to_tweet_id)).toEqual([MENTION_ID, '1900000000000000000', '1900000000000000001']);
    expect(result).toEqual({ providerMessageId: 'tweet:1900000000000000000', extraProviderMessageIds: ['tweet:1900000000000000001', 'tweet:1900000000000000002'] });
  });

  it('resumes a thread after a failed part instead of posting the first part twice', async () => {
    let failed = false;
    const { api, sender } = await setup((_req, i) => {
      if (i === 1 && !failed) {
        failed = true;
        return { status: 503, body: { title: 'Service Unavailable' } };
      }
      return tweeted(i);
    });
    await expect(sender.send(mentionReply(LONG))).rejects.not.toBeInstanceOf(PermanentSendError);
    const result = await sender.send(mentionReply(LONG));
    const posted = api.requests.map(body);
    expect(posted.map((p) => p.text.slice(-6))).toEqual([' (1/3)', ' (2/3)', ' (2/3)', ' (3/3)']);
    expect(posted[2]!.reply?.in_reply_to_tweet_id).toBe('1900000000000000000');
    expect(result.extraProviderMessageIds).toEqual(['tweet:1900000000000000002', 'tweet:1900000000000000003']);
  });

  it('refuses a reply that would take more than five tweets, and one with nothing to answer', async () => {
    const { api, sender } = await setup((_req, i) => tweeted(i));
    await expect(sender.send(mentionReply('word '.repeat(300)))).rejects.toMatchObject({ code: 'too-long' });
    await expect(sender.send(dm({ thread: { conversationKey: `xtw:${US}:${THEM}` } }))).rejects.toMatchObject({ code: 'no-reply-target' });
    expect(api.requests).toHaveLength(0);
  });
});

describe('createTwitterSender: errors', () => {
  const failWith = async (reply: Reply) => {
    const { sender } = await setup(() => reply);
    return sender.send(mentionReply('Thanks, looking into it.')).catch((e: unknown) => e);
  };

  it('retries 429 and 5xx', async () => {
    for (const reply of [{ status: 429, body: { title: 'Too Many Requests', detail: 'Too Many Requests', type: 'about:blank', status: 429 } }, { status: 500, body: {} }]) {
      const error = await failWith(reply);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(PermanentSendError);
    }
  });

  it('makes 401 and 403 permanent, with X’s explanation', async () => {
    const forbidden = await failWith({
      status: 403,
      body: { title: 'Forbidden', detail: 'You are not allowed to create a Tweet with duplicate content.', type: 'about:blank', status: 403 },
    });
    expect(forbidden).toBeInstanceOf(PermanentSendError);
    expect(forbidden).toMatchObject({ code: 'x-forbidden' });
    expect((forbidden as Error).message).toContain('duplicate content');
    expect(await failWith({ status: 401, body: { title: 'Unauthorized', status: 401 } })).toMatchObject({ code: 'x-forbidden' });
  });
});

describe('tweetLength / splitText', () => {
  it('counts URLs as 23 and CJK and emoji as 2, Hebrew and Polish as 1', () => {
    expect(tweetLength(`see https://example.com/${'a'.repeat(80)}`)).toBe(4 + 23);
    expect(tweetLength('שלום')).toBe(4);
    expect(tweetLength('żółć')).toBe(4);
    expect(tweetLength('日本語')).toBe(6);
    expect(tweetLength('ok 👍')).toBe(5);
  });

  it('keeps a short reply whole and unnumbered', () => {
    expect(threadParts('Thanks!')).toEqual(['Thanks!']);
  });

  it('cuts an unbroken run hard, at a code point', () => {
    const parts = splitText('😀'.repeat(10), 7, tweetLength);
    expect(parts).toEqual(['😀😀😀', '😀😀😀', '😀😀😀', '😀']);
  });
});
