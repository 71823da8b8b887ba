import { afterEach, describe, expect, it } from 'vitest';
import { PermanentSendError, type OutboundMessage } from '../../../../src/channels/channel.sender.js';
import { createFacebookSender, messagingWindow } from '../../../../src/channels/facebook/facebook.sender.js';
import { startLocalApi, type Reply, type RecordedRequest } from './local-http.js';

const PAGE = '682498302938465';
const PSID = '7066489083426785';
const NOW = new Date('2026-03-02T12:00:00Z');
const hoursAgo = (h: number) => new Date(NOW.getTime() - h * 3_600_000);

const apis: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const api of apis.splice(0)) await api.close();
});

async function setup(respond: (req: RecordedRequest, index: number) => Reply, extra: { humanAgentTag?: boolean } = {}) {
  const api = await startLocalApi(respond);
  apis.push(api);
  const sender = createFacebookSender({ graphUrl: `${api.url}/v21.0`, pageAccessToken: 'page token/+=', now: () => NOW, ...extra });
  return { api, sender };
}

const sent = (index: number): Reply => ({ body: { recipient_id: PSID, message_id: `m_${index}` } });

const messenger = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  outboxId: 'c0ffee00-0000-4000-8000-000000000001',
  ticketNumber: 10042,
  channel: 'facebook',
  to: { kind: 'facebook', address: `${PAGE}:${PSID}` },
  text: 'Sorry to hear that. Your complaint is ticket #10042.',
  thread: { conversationKey: `fb:${PAGE}:${PSID}` },
  lastInboundAt: hoursAgo(2),
  ...over,
});

const graphFailure = (status: number, code: number, subcode?: number): Reply => ({
  status,
  body: { error: { message: `Graph says ${code}`, type: 'OAuthException', code, ...(subcode ? { error_subcode: subcode } : {}), fbtrace_id: 'AbCdEf' } },
});

describe('createFacebookSender: Messenger', () => {
  it('posts a RESPONSE to /{page}/messages with the token in the query and the outbox id as metadata', async () => {
    const { api, sender } = await setup((_req, i) => sent(i));
    const result = await sender.send(messenger());

    expect(result).toEqual({ providerMessageId: 'm_0' });
    expect(api.requests).toHaveLength(1);
    const req = api.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe(`/v21.0/${PAGE}/messages`);
    expect(req.query.get('access_token')).toBe('page token/+=');
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({
      recipient: { id: PSID },
      messaging_type: 'RESPONSE',
      message: { text: 'Sorry to hear that. Your complaint is ticket #10042.', metadata: 'outbox:c0ffee00-0000-4000-8000-000000000001' },
    });
  });

  it('refuses once the 24-hour window has closed, without calling Graph', async () => {
    const { api, sender } = await setup((_req, i) => sent(i));
    const error = await sender.send(messenger({ lastInboundAt: hoursAgo(24) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentSendError);
    expect(error).toMatchObject({ code: 'messenger-window-closed' });
    expect((error as Error).message).toMatch(/24-hour window closed.*another channel/);
    expect(api.requests).toHaveLength(0);
  });

  it('reads a last-inbound time that came back from jsonb as a string', async () => {
    const { api, sender } = await setup((_req, i) => sent(i));
    const asJson = messenger({ lastInboundAt: hoursAgo(30).toISOString() as unknown as Date });
    await expect(sender.send(asJson)).rejects.toMatchObject({ code: 'messenger-window-closed' });
    await sender.send(messenger({ lastInboundAt: hoursAgo(23).toISOString() as unknown as Date }));
    expect(api.requests).toHaveLength(1);
  });

  it('uses the HUMAN_AGENT tag between 24 h and 7 days only when the app has that permission', async () => {
    const { api, sender } = await setup((_req, i) => sent(i), { humanAgentTag: true });
    await sender.send(messenger({ lastInboundAt: hoursAgo(72) }));
    expect(JSON.parse(api.requests[0]!.body)).toMatchObject({ messaging_type: 'MESSAGE_TAG', tag: 'HUMAN_AGENT' });
    await expect(sender.send(messenger({ lastInboundAt: hoursAgo(7 * 24) }))).rejects.toMatchObject({ code: 'messenger-window-closed' });
    expect(api.requests).toHaveLength(1);
    expect(messagingWindow(hoursAgo(72), NOW, false)).toBe('closed');
    expect(messagingWindow(undefined, NOW, false)).toBe('standard');
  });

  it('splits a text over 2000 characters at paragraph boundaries into several messages', async () => {
    const { api, sender } = await setup((_req, i) => sent(i));
    const paragraphs = ['A', 'B', 'C', 'D', 'E'].map((l) => `${l}${'x'.repeat(899)}.`);
    const text = paragraphs.join('\n\n');
    const result = await sender.send(messenger({ text }));

    const texts = api.requests.map((r) => (JSON.parse(r.body) as { message: { text: string } }).message.text);
    expect(texts).toEqual([paragraphs.slice(0, 2).join('\n\n'), paragraphs.slice(2, 4).join('\n\n'), paragraphs[4]]);
    expect(texts.every((t) => t.length < 2000)).toBe(true);
    expect(result).toEqual({ providerMessageId: 'm_0', extraProviderMessageIds: ['m_1', 'm_2'] });
  });

  it('does not resend the parts Graph already accepted when a later part is retried', async () => {
    let failed = false;
    const { api, sender } = await setup((_req, i) => {
      if (i === 1 && !failed) {
        failed = true;
        return graphFailure(500, 2);
      }
      return sent(i);
    });
    const text = `${'a '.repeat(900)}\n\n${'b '.repeat(900)}`;
    await expect(sender.send(messenger({ text }))).rejects.not.toBeInstanceOf(PermanentSendError);
    const result = await sender.send(messenger({ text }));
    const texts = api.requests.map((r) => (JSON.parse(r.body) as { message: { text: string } }).message.text[0]);
    expect(texts).toEqual(['a', 'b', 'b']);
    expect(result).toEqual({ providerMessageId: 'm_0', extraProviderMessageIds: ['m_2'] });
  });

  it('refuses a text that would take more than five messages', async () => {
    const { api, sender } = await setup((_req, i) => sent(i));
    await expect(sender.send(messenger({ text: 'word '.repeat(2500) }))).rejects.toMatchObject({ code: 'too-long' });
    expect(api.requests).toHaveLength(0);
  });
});

describe('createFacebookSender: comments', () => {
  it('answers a comment with a public reply on /{comment-id}/comments', async () => {
    const { api, sender } = await setup(() => ({ body: { id: '122131676912594941_999' } }));
    const result = await sender.send(
      messenger({
        thread: { conversationKey: `fbpost:${PAGE}_122131676912594941`, replyToProviderId: '122131676912594941_1213590066982748' },
        text: 'We have sent you a private message & a refund.',
        lastInboundAt: hoursAgo(24 * 30),
      }),
    );
    expect(result).toEqual({ providerMessageId: '122131676912594941_999' });
    const req = api.requests[0]!;
    expect(req.path).toBe('/v21.0/122131676912594941_1213590066982748/comments');
    expect(req.query.get('access_token')).toBe('page token/+=');
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(req.body).get('message')).toBe('We have sent you a private message & a refund.');
  });

  it('refuses a comment reply without the comment id', async () => {
    const { api, sender } = await setup(() => ({ body: { id: 'x' } }));
    await expect(sender.send(messenger({ thread: { conversationKey: `fbpost:${PAGE}_1` } }))).rejects.toMatchObject({ code: 'no-reply-target' });
    expect(api.requests).toHaveLength(0);
  });
});

describe('createFacebookSender: Graph errors', () => {
  const failWith = async (reply: Reply) => {
    const { sender } = await setup(() => reply);
    return sender.send(messenger()).catch((e: unknown) => e);
  };

  it('makes an invalid token (190) permanent, with Graph’s message and trace id', async () => {
    const error = await failWith(graphFailure(400, 190));
    expect(error).toBeInstanceOf(PermanentSendError);
    expect(error).toMatchObject({ code: 'facebook-token-invalid' });
    expect((error as Error).message).toContain('Graph says 190');
    expect((error as Error).message).toContain('AbCdEf');
  });

  it('makes unreachable people and refused sends permanent (551, 230, 10900, 10/2018278, 100)', async () => {
    expect(await failWith(graphFailure(400, 551))).toMatchObject({ code: 'facebook-recipient-unavailable' });
    expect(await failWith(graphFailure(403, 230))).toMatchObject({ code: 'facebook-recipient-unavailable' });
    expect(await failWith(graphFailure(400, 10900))).toMatchObject({ code: 'facebook-already-replied' });
    expect(await failWith(graphFailure(400, 10, 2018278))).toMatchObject({ code: 'messenger-window-closed' });
    expect(await failWith(graphFailure(400, 100))).toMatchObject({ code: 'facebook-rejected' });
  });

  it('retries rate limits (613, 4, 17, 32) and server errors (500)', async () => {
    for (const reply of [graphFailure(400, 613), graphFailure(403, 4), graphFailure(403, 17), graphFailure(403, 32), graphFailure(500, 1), { status: 502, body: 'bad gateway' }]) {
      const error = await failWith(reply);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(PermanentSendError);
    }
  });
});
