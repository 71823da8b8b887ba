import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../../src/channels/channel.errors.js';
import { contentTypeFor, parseFacebookWebhook } from '../../../src/channels/facebook/facebook.parser.js';
import { facebookVerifyChallenge, verifyFacebookSignature } from '../../../src/channels/facebook/facebook.signature.js';

// channels.md §1.3a, byte for byte: the signature test vector is computed over exactly this.
const TEXT_MESSAGE =
  '{"object":"page","entry":[{"id":"105320418834911","time":1718030451234,"messaging":[{"sender":{"id":"7066489083426785"},"recipient":{"id":"105320418834911"},"timestamp":1718030450987,"message":{"mid":"m_Qw3rTy-EXAMPLE","text":"Hi, my order #4471 arrived damaged"}}]}]}';
const VECTOR_SIGNATURE = 'sha256=ac5962a23001bb37e48065fb70115b260f382d6a1a9d0d924420d991bca60ae3';
const SECRET = 'test_app_secret';

// §1.3b (the <PSID> placeholder replaced by a concrete id).
const ATTACHMENT_MESSAGE = {
  object: 'page',
  entry: [{ id: '682498302938465', time: 1518479195594, messaging: [{ sender: { id: '1254477777772919' }, recipient: { id: '682498302938465' }, timestamp: 1518479195308, message: { mid: 'mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c', attachments: [{ type: 'image', payload: { url: 'https://scontent.xx.fbcdn.net/v/t1.15752-9/example.jpg' } }] } }] }],
};

// §1.3c with the placeholders filled in.
const echo = (appId: number) => ({
  object: 'page',
  entry: [{ id: '105320418834911', time: 1457764198246, messaging: [{ sender: { id: '105320418834911' }, recipient: { id: '7066489083426785' }, timestamp: 1457764197627, message: { is_echo: true, app_id: appId, metadata: 'ticket:10042', mid: 'mid.1457764197618:41d102a3e1ae206a38', text: 'hello, world!' } }] }],
});

// §1.4 verbatim: a reply written by the Page itself.
const PAGE_COMMENT =
  '{"entry":[{"id":"448242228374517","time":1742667607,"changes":[{"value":{"from":{"id":"448242228374517","name":"SuperTester"},"post":{"status_type":"mobile_status_update","is_published":true,"updated_time":"2025-03-22T18:20:04+0000","promotion_status":"inactive","id":"448242228374517_122131676912594941"},"message":"meow 2","post_id":"448242228374517_122131676912594941","comment_id":"122131676912594941_1213590066982748","created_time":1742667604,"item":"comment","parent_id":"122131676912594941_542072878449250","verb":"add"},"field":"feed"}]}],"object":"page"}';

const customerComment = (overrides: Record<string, unknown> = {}) => ({
  object: 'page',
  entry: [{ id: '448242228374517', time: 1742667607, changes: [{ field: 'feed', value: { from: { id: '9988776655', name: 'Dana Cohen' }, post_id: '448242228374517_122131676912594941', comment_id: '122131676912594941_777', created_time: 1742667604, item: 'comment', parent_id: '448242228374517_122131676912594941', verb: 'add', message: 'Still no refund after 3 weeks!', ...overrides } }] }],
});

const receivedAt = new Date('2026-01-05T09:00:00Z');

describe('verifyFacebookSignature', () => {
  const raw = Buffer.from(TEXT_MESSAGE, 'utf8');

  it('accepts the channels.md test vector', () => {
    expect(verifyFacebookSignature(raw, VECTOR_SIGNATURE, SECRET)).toBe(true);
  });
  it('accepts uppercase hex from a lenient sender', () => {
    expect(verifyFacebookSignature(raw, `sha256=${VECTOR_SIGNATURE.slice(7).toUpperCase()}`, SECRET)).toBe(true);
  });
  it('rejects a tampered body', () => {
    expect(verifyFacebookSignature(Buffer.from(TEXT_MESSAGE.replace('4471', '4472')), VECTOR_SIGNATURE, SECRET)).toBe(false);
  });
  it('rejects re-serialised JSON (signature covers the raw bytes)', () => {
    const reencoded = Buffer.from(JSON.stringify(JSON.parse(TEXT_MESSAGE), null, 1));
    expect(verifyFacebookSignature(reencoded, VECTOR_SIGNATURE, SECRET)).toBe(false);
  });
  it('rejects a missing header, a wrong prefix, a wrong length and a wrong secret', () => {
    expect(verifyFacebookSignature(raw, undefined, SECRET)).toBe(false);
    expect(verifyFacebookSignature(raw, '', SECRET)).toBe(false);
    expect(verifyFacebookSignature(raw, VECTOR_SIGNATURE.replace('sha256=', 'sha1='), SECRET)).toBe(false);
    expect(verifyFacebookSignature(raw, VECTOR_SIGNATURE.slice(7), SECRET)).toBe(false);
    expect(verifyFacebookSignature(raw, VECTOR_SIGNATURE.slice(0, -2), SECRET)).toBe(false);
    expect(verifyFacebookSignature(raw, `${VECTOR_SIGNATURE}00`, SECRET)).toBe(false);
    expect(verifyFacebookSignature(raw, VECTOR_SIGNATURE, 'other_secret')).toBe(false);
  });
  it('never accepts anything when the secret is not configured', () => {
    const forged = `sha256=${createHmac('sha256', '').update(raw).digest('hex')}`;
    expect(verifyFacebookSignature(raw, forged, '')).toBe(false);
  });
});

describe('facebookVerifyChallenge', () => {
  it('returns the challenge for subscribe with the right token', () => {
    expect(facebookVerifyChallenge({ 'hub.mode': 'subscribe', 'hub.verify_token': 'tok', 'hub.challenge': '1158201444' }, 'tok')).toBe('1158201444');
  });
  it('understands nested (qs) and PHP-style parameter names', () => {
    expect(facebookVerifyChallenge({ hub: { mode: 'subscribe', verify_token: 'tok', challenge: '42' } }, 'tok')).toBe('42');
    expect(facebookVerifyChallenge({ hub_mode: 'subscribe', hub_verify_token: 'tok', hub_challenge: '42' }, 'tok')).toBe('42');
  });
  it('returns null on a wrong token, wrong mode, missing challenge or unset token', () => {
    expect(facebookVerifyChallenge({ 'hub.mode': 'subscribe', 'hub.verify_token': 'nope', 'hub.challenge': '1' }, 'tok')).toBeNull();
    expect(facebookVerifyChallenge({ 'hub.mode': 'unsubscribe', 'hub.verify_token': 'tok', 'hub.challenge': '1' }, 'tok')).toBeNull();
    expect(facebookVerifyChallenge({ 'hub.mode': 'subscribe', 'hub.verify_token': 'tok' }, 'tok')).toBeNull();
    expect(facebookVerifyChallenge({ 'hub.mode': 'subscribe', 'hub.verify_token': '', 'hub.challenge': '1' }, '')).toBeNull();
    expect(facebookVerifyChallenge({ 'hub.mode': 'subscribe', 'hub.verify_token': ['tok', 'tok'], 'hub.challenge': '1' }, 'tok')).toBeNull();
  });
  it('refuses to echo markup', () => {
    expect(facebookVerifyChallenge({ 'hub.mode': 'subscribe', 'hub.verify_token': 'tok', 'hub.challenge': '<script>x</script> y' }, 'tok')).toBeNull();
  });
});

describe('parseFacebookWebhook: Messenger', () => {
  it('normalizes the §1.3a text message', () => {
    const { messages, skipped } = parseFacebookWebhook(JSON.parse(TEXT_MESSAGE), { receivedAt });
    expect(skipped).toEqual([]);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      channel: 'facebook',
      kind: 'message',
      providerMessageId: 'm_Qw3rTy-EXAMPLE',
      sender: { kind: 'facebook', address: '105320418834911:7066489083426785' },
      thread: { conversationKey: 'fb:105320418834911:7066489083426785' },
      text: 'Hi, my order #4471 arrived damaged',
      attachments: [],
      sentAt: new Date(1718030450987),
      language: 'en',
    });
  });

  it('does not take the order number for a phone when extracting typed identities', () => {
    const { messages } = parseFacebookWebhook(JSON.parse(TEXT_MESSAGE), { receivedAt, defaultRegion: 'IL' });
    expect(messages[0]?.otherIdentities).toBeUndefined();
  });

  it('normalizes the §1.3b attachment message', () => {
    const { messages } = parseFacebookWebhook(ATTACHMENT_MESSAGE, { receivedAt });
    expect(messages[0]).toMatchObject({
      providerMessageId: 'mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c',
      text: '',
      attachments: [{ filename: 'example.jpg', contentType: 'image/jpeg', size: 0, url: 'https://scontent.xx.fbcdn.net/v/t1.15752-9/example.jpg' }],
      sentAt: new Date(1518479195308),
    });
    expect(messages[0]?.language).toBeUndefined();
  });

  it('maps attachment types to content types', () => {
    expect(contentTypeFor('image', 'https://cdn.example/a?x=1')).toBe('image/*');
    expect(contentTypeFor('video', 'https://cdn.example/clip.mp4')).toBe('video/mp4');
    expect(contentTypeFor('audio', 'https://cdn.example/clip.jpg')).toBe('audio/*');
    expect(contentTypeFor('file', 'https://cdn.example/invoice.pdf')).toBe('application/pdf');
    expect(contentTypeFor('file', 'https://cdn.example/blob')).toBe('application/octet-stream');
    expect(contentTypeFor('fallback', 'https://example.com/article')).toBe('application/octet-stream');
  });

  it('keeps reply_to and the quick-reply payload', () => {
    const body = JSON.parse(TEXT_MESSAGE);
    body.entry[0].messaging[0].message.reply_to = { mid: 'm_earlier' };
    body.entry[0].messaging[0].message.quick_reply = { payload: 'REFUND' };
    const [m] = parseFacebookWebhook(body, { receivedAt }).messages;
    expect(m?.thread.inReplyToProviderId).toBe('m_earlier');
    expect(m?.providerData).toMatchObject({ quickReplyPayload: 'REFUND' });
  });

  it('skips our own echoes and reports other apps\' echoes as "echo"', () => {
    const own = parseFacebookWebhook(echo(1517776481860111), { appId: '1517776481860111', receivedAt });
    expect(own.messages).toEqual([]);
    expect(own.skipped).toEqual([{ reason: 'own_echo', ref: 'mid.1457764197618:41d102a3e1ae206a38' }]);
    const inbox = parseFacebookWebhook(echo(263902037430900), { appId: '1517776481860111', receivedAt });
    expect(inbox.messages).toEqual([]);
    expect(inbox.skipped).toEqual([{ reason: 'echo', ref: 'mid.1457764197618:41d102a3e1ae206a38' }]);
  });

  it('handles several entries and events in one delivery, standby included', () => {
    const base = JSON.parse(TEXT_MESSAGE);
    const second = { sender: { id: '111' }, recipient: { id: '105320418834911' }, timestamp: 1718030460000, message: { mid: 'm_2', text: 'Hello?' } };
    const delivery = { sender: { id: '111' }, recipient: { id: '105320418834911' }, delivery: { mids: ['m_out'], watermark: 1 } };
    const read = { sender: { id: '111' }, recipient: { id: '105320418834911' }, read: { watermark: 1 } };
    const postback = { sender: { id: '111' }, recipient: { id: '105320418834911' }, postback: { title: 'Get Started', payload: 'GET_STARTED' } };
    base.entry[0].messaging.push(second, delivery);
    base.entry.push({ id: '999', time: 1, messaging: [read, postback], standby: [{ sender: { id: '222' }, recipient: { id: '999' }, timestamp: 5, message: { mid: 'm_3', text: 'Hi from standby' } }] });
    const { messages, skipped } = parseFacebookWebhook(base, { receivedAt });
    expect(messages.map((m) => m.providerMessageId)).toEqual(['m_Qw3rTy-EXAMPLE', 'm_2', 'm_3']);
    expect(messages[2]).toMatchObject({ sender: { address: '999:222' }, thread: { conversationKey: 'fb:999:222' }, providerData: { standby: true } });
    expect(skipped.map((s) => s.reason)).toEqual(['delivery', 'read', 'postback']);
  });

  it('skips empty and deleted messages and unknown events with a reason', () => {
    const body = {
      object: 'page',
      entry: [{ id: '1', messaging: [
        { sender: { id: '2' }, recipient: { id: '1' }, message: { mid: 'm_a', attachments: [{ type: 'template', payload: null }] } },
        { sender: { id: '2' }, recipient: { id: '1' }, message: { mid: 'm_b', is_deleted: true } },
        { sender: { id: '2' }, recipient: { id: '1' }, something_new: {} },
      ] }],
    };
    expect(parseFacebookWebhook(body, { receivedAt }).skipped).toEqual([
      { reason: 'empty_message', ref: 'm_a' },
      { reason: 'message_deleted', ref: 'm_b' },
      { reason: 'unsupported_event', ref: '1:2' },
    ]);
  });

  it('falls back to the receipt time without a timestamp', () => {
    const body = JSON.parse(TEXT_MESSAGE);
    delete body.entry[0].messaging[0].timestamp;
    expect(parseFacebookWebhook(body, { receivedAt }).messages[0]?.sentAt).toEqual(receivedAt);
  });
});

describe('parseFacebookWebhook: feed comments', () => {
  it('skips the §1.4 comment written by the Page itself', () => {
    const { messages, skipped } = parseFacebookWebhook(JSON.parse(PAGE_COMMENT), { receivedAt });
    expect(messages).toEqual([]);
    expect(skipped).toEqual([{ reason: 'page_comment', ref: '122131676912594941_1213590066982748' }]);
  });

  it('normalizes a customer top-level comment', () => {
    const { messages } = parseFacebookWebhook(customerComment(), { receivedAt });
    expect(messages[0]).toMatchObject({
      channel: 'facebook',
      kind: 'message',
      providerMessageId: '122131676912594941_777',
      sender: { kind: 'facebook', address: '448242228374517:9988776655', displayName: 'Dana Cohen' },
      thread: { conversationKey: 'fbpost:448242228374517_122131676912594941' },
      text: 'Still no refund after 3 weeks!',
      sentAt: new Date(1742667604 * 1000),
    });
    expect(messages[0]?.thread.inReplyToProviderId).toBeUndefined();
  });

  it('threads a reply under its parent comment and keeps photos', () => {
    const { messages } = parseFacebookWebhook(customerComment({ parent_id: '122131676912594941_542072878449250', photo: 'https://scontent.xx.fbcdn.net/p.png' }), { receivedAt });
    expect(messages[0]?.thread.inReplyToProviderId).toBe('122131676912594941_542072878449250');
    expect(messages[0]?.attachments).toEqual([{ filename: 'p.png', contentType: 'image/png', size: 0, url: 'https://scontent.xx.fbcdn.net/p.png' }]);
  });

  it('takes the page id from post_id when the entry has none', () => {
    const body = customerComment();
    delete (body.entry[0] as { id?: string }).id;
    expect(parseFacebookWebhook(body, { receivedAt }).messages[0]?.sender.address).toBe('448242228374517:9988776655');
  });

  it('skips other items, other verbs, anonymous comments and other fields', () => {
    const skippedFor = (value: Record<string, unknown>) => parseFacebookWebhook(customerComment(value), { receivedAt }).skipped;
    expect(skippedFor({ item: 'reaction' })).toEqual([{ reason: 'feed_not_comment', ref: 'reaction' }]);
    expect(skippedFor({ verb: 'edited' })).toEqual([{ reason: 'feed_comment_not_added', ref: '122131676912594941_777' }]);
    expect(skippedFor({ from: undefined })).toEqual([{ reason: 'comment_without_sender', ref: '122131676912594941_777' }]);
    const body = { object: 'page', entry: [{ id: '1', changes: [{ field: 'mention', value: {} }] }] };
    expect(parseFacebookWebhook(body, { receivedAt }).skipped).toEqual([{ reason: 'unsupported_field', ref: 'mention' }]);
  });
});

describe('parseFacebookWebhook: malformed payloads', () => {
  const fieldOf = (body: unknown): string => {
    try {
      parseFacebookWebhook(body, { receivedAt });
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidPayloadError);
      return (err as InvalidPayloadError).field;
    }
    throw new Error('expected InvalidPayloadError');
  };

  it('names the offending field', () => {
    expect(fieldOf(null)).toBe('(root)');
    expect(fieldOf({ object: 'instagram', entry: [] })).toBe('object');
    expect(fieldOf({ object: 'page' })).toBe('entry');
    const noMid = JSON.parse(TEXT_MESSAGE);
    delete noMid.entry[0].messaging[0].message.mid;
    expect(fieldOf(noMid)).toBe('entry[0].messaging[0].message.mid');
    const badSender = JSON.parse(TEXT_MESSAGE);
    badSender.entry[0].messaging.push({ sender: { id: {} }, recipient: { id: '1' }, message: { mid: 'x' } });
    expect(fieldOf(badSender)).toBe('entry[0].messaging[1].sender.id');
    const noSender = JSON.parse(TEXT_MESSAGE);
    noSender.entry[0].messaging.push({ recipient: { id: '1' }, message: { mid: 'x', text: 'hi' } });
    expect(fieldOf(noSender)).toBe('entry[0].messaging[1].sender.id');
    const noEntryId = JSON.parse(TEXT_MESSAGE);
    delete noEntryId.entry[0].id;
    expect(fieldOf(noEntryId)).toBe('entry[0].id');
    expect(fieldOf(customerComment({ comment_id: 5 }))).toBe('entry[0].changes[0].value.comment_id');
  });

  it('refuses numeric ids that already lost precision', () => {
    const body = JSON.parse(TEXT_MESSAGE);
    body.entry[0].messaging[0].sender.id = 2 ** 60;
    expect(fieldOf(body)).toBe('entry[0].messaging[0].sender.id');
  });
});
