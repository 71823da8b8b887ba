import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../../../src/channels/channel.errors.js';
import { parseTwitterWebhook } from '../../../src/channels/twitter/twitter.parser.js';
import { twitterCrcResponse, verifyTwitterSignature } from '../../../src/channels/twitter/twitter.signature.js';

// channels.md §2.3, verbatim: Zammad's DM fixture, where the sender IS for_user_id (outgoing).
const ZAMMAD_DM =
  '{"for_user_id":"123","direct_message_events":[{"type":"message_create","id":"1062015437679050760","created_timestamp":"1542039186292","message_create":{"target":{"recipient_id":"456"},"sender_id":"123","source_app_id":"268278","message_data":{"text":"Hey! Hello!","entities":{"hashtags":[],"symbols":[],"user_mentions":[],"urls":[]}}}}],"apps":{"268278":{"id":"268278","name":"Twitter Web Client","url":"http://twitter.com"}},"users":{"123":{"id":"123","created_timestamp":"1476091912921","name":"Zammad HQ","screen_name":"zammadhq","protected":false,"verified":false,"followers_count":426,"friends_count":509,"statuses_count":436,"profile_image_url_https":"https://pbs.twimg.com/profile_images/785412960797745152/wxdIvejo_normal.jpg"},"456":{"id":"456","created_timestamp":"1290730789000","name":"Martin Edenhofer","screen_name":"medenhofer","protected":false,"verified":false,"profile_image_url_https":"https://pbs.twimg.com/profile_images/794220000450150401/D-eFg44R_normal.jpg"}}}';

// channels.md §2.3, verbatim: the mention.
const MENTION =
  '{"for_user_id":"2975699229","user_has_blocked":false,"tweet_create_events":[{"created_at":"Fri Dec 13 04:48:09 +0000 2019","id":1205348660982083584,"id_str":"1205348660982083584","text":"@ScruffyMcG This is a test of Twitter API webhooks.","source":"<a href=\\"https://mobile.twitter.com\\" rel=\\"nofollow\\">Twitter Web App</a>","truncated":false,"in_reply_to_status_id":null,"in_reply_to_status_id_str":null,"in_reply_to_user_id":2975699229,"in_reply_to_user_id_str":"2975699229","in_reply_to_screen_name":"ScruffyMcG","user":{"id":1205290247124217856,"id_str":"1205290247124217856","name":"pennbrooke","screen_name":"pennbrooke1","location":"London"},"entities":{"hashtags":[],"urls":[],"user_mentions":[{"screen_name":"ScruffyMcG","name":"Ryan Lue","id":2975699229,"id_str":"2975699229","indices":[0,11]}],"symbols":[]},"lang":"en","timestamp_ms":"1576212489730"}]}';

// The same DM turned incoming (sender 456), as a customer would write it.
const incomingDm = (): Record<string, unknown> => {
  const body = JSON.parse(ZAMMAD_DM);
  body.direct_message_events[0].message_create.sender_id = '456';
  body.direct_message_events[0].message_create.target.recipient_id = '123';
  return body;
};

const receivedAt = new Date('2026-01-05T09:00:00Z');

describe('twitterCrcResponse / verifyTwitterSignature', () => {
  it('answers the channels.md CRC test vector', () => {
    expect(twitterCrcResponse('challenge123', 'test_consumer_secret')).toEqual({
      response_token: 'sha256=bduFTUKxcpX6V/Na8ySV0jg4oI1UGafJHo/L5CYtzIo=',
    });
  });

  const raw = Buffer.from(MENTION);
  const good = `sha256=${createHmac('sha256', 'test_consumer_secret').update(raw).digest('base64')}`;

  it('accepts a correct signature', () => {
    expect(verifyTwitterSignature(raw, good, 'test_consumer_secret')).toBe(true);
  });
  it('rejects tampering, a missing header, a wrong prefix, hex, a wrong length or an unset secret', () => {
    expect(verifyTwitterSignature(Buffer.from(MENTION.replace('test', 'Test')), good, 'test_consumer_secret')).toBe(false);
    expect(verifyTwitterSignature(raw, undefined, 'test_consumer_secret')).toBe(false);
    expect(verifyTwitterSignature(raw, good.replace('sha256=', 'sha1='), 'test_consumer_secret')).toBe(false);
    expect(verifyTwitterSignature(raw, good.slice(7), 'test_consumer_secret')).toBe(false);
    const hex = `sha256=${createHmac('sha256', 'test_consumer_secret').update(raw).digest('hex')}`;
    expect(verifyTwitterSignature(raw, hex, 'test_consumer_secret')).toBe(false);
    expect(verifyTwitterSignature(raw, good.slice(0, -3), 'test_consumer_secret')).toBe(false);
    expect(verifyTwitterSignature(raw, good, 'other')).toBe(false);
    expect(verifyTwitterSignature(raw, `sha256=${createHmac('sha256', '').update(raw).digest('base64')}`, '')).toBe(false);
  });
});

describe('parseTwitterWebhook: direct messages', () => {
  it('skips the Zammad fixture DM, which we sent ourselves', () => {
    const { messages, skipped } = parseTwitterWebhook(JSON.parse(ZAMMAD_DM), { receivedAt });
    expect(messages).toEqual([]);
    expect(skipped).toEqual([{ reason: 'own_message', ref: 'dm:1062015437679050760' }]);
  });

  it('normalizes an incoming DM with names from the users map', () => {
    const { messages, skipped } = parseTwitterWebhook(incomingDm(), { receivedAt });
    expect(skipped).toEqual([]);
    expect(messages[0]).toMatchObject({
      channel: 'twitter',
      kind: 'message',
      providerMessageId: 'dm:1062015437679050760',
      sender: { kind: 'twitter', address: '456', displayName: 'Martin Edenhofer', handle: 'medenhofer' },
      thread: { conversationKey: 'xdm:123:456' },
      text: 'Hey! Hello!',
      attachments: [],
      sentAt: new Date(1542039186292),
      providerData: { forUserId: '123', recipientId: '123', sourceAppId: '268278' },
    });
  });

  it('turns DM media into attachments and drops the t.co link (Zammad with_media shape)', () => {
    const body = incomingDm() as { direct_message_events: { message_create: { message_data: Record<string, unknown> } }[] };
    body.direct_message_events[0]!.message_create.message_data = {
      text: 'Look at this https://t.co/amoKo1v19w',
      attachment: {
        type: 'media',
        media: {
          id_str: '1209117874389843969',
          media_url_https: 'https://pbs.twimg.com/dm_gif_preview/1209117874389843969/x.jpg',
          url: 'https://t.co/amoKo1v19w',
          type: 'animated_gif',
          video_info: { variants: [{ bitrate: 0, content_type: 'video/mp4', url: 'https://video.twimg.com/dm_gif/1209117874389843969/x.mp4' }] },
        },
      },
    };
    const [m] = parseTwitterWebhook(body, { receivedAt }).messages;
    expect(m?.text).toBe('Look at this');
    expect(m?.attachments).toEqual([{ filename: 'x.mp4', contentType: 'video/mp4', size: 0, url: 'https://video.twimg.com/dm_gif/1209117874389843969/x.mp4' }]);
  });

  it('accepts a photo given as an array of media', () => {
    const body = incomingDm() as { direct_message_events: { message_create: { message_data: Record<string, unknown> } }[] };
    body.direct_message_events[0]!.message_create.message_data = {
      text: 'Blue Bird https://t.co/5J1WJSRCy9',
      attachment: { media: [{ media_url_https: 'https://pbs.twimg.com/media/DOhM30VVwAEpIHq.jpg', type: 'photo', url: 'https://t.co/5J1WJSRCy9' }] },
    };
    const [m] = parseTwitterWebhook(body, { receivedAt }).messages;
    expect(m?.attachments).toEqual([{ filename: 'DOhM30VVwAEpIHq.jpg', contentType: 'image/jpeg', size: 0, url: 'https://pbs.twimg.com/media/DOhM30VVwAEpIHq.jpg' }]);
  });

  it('extracts identities typed into a DM when a region is given', () => {
    const body = incomingDm() as { direct_message_events: { message_create: { message_data: { text: string } } }[] };
    body.direct_message_events[0]!.message_create.message_data.text = 'Zadzwońcie: 601 234 567 albo jan@example.pl';
    const [m] = parseTwitterWebhook(body, { receivedAt, defaultRegion: 'PL' }).messages;
    expect(m?.otherIdentities).toEqual([
      { kind: 'phone', address: '+48601234567' },
      { kind: 'email', address: 'jan@example.pl' },
    ]);
    expect(m?.language).toBe('pl');
  });
});

describe('parseTwitterWebhook: tweets', () => {
  it('normalizes the §2.3 mention', () => {
    const { messages, skipped } = parseTwitterWebhook(JSON.parse(MENTION), { receivedAt });
    expect(skipped).toEqual([]);
    expect(messages[0]).toMatchObject({
      channel: 'twitter',
      kind: 'message',
      providerMessageId: 'tweet:1205348660982083584',
      sender: { kind: 'twitter', address: '1205290247124217856', displayName: 'pennbrooke', handle: 'pennbrooke1' },
      thread: { conversationKey: 'xtw:2975699229:1205290247124217856' },
      text: '@ScruffyMcG This is a test of Twitter API webhooks.',
      sentAt: new Date(1576212489730),
      language: 'en',
    });
    expect(messages[0]?.thread.inReplyToProviderId).toBeUndefined();
  });

  it('prefers extended_tweet.full_text and keeps the replied-to tweet id', () => {
    const body = JSON.parse(MENTION);
    Object.assign(body.tweet_create_events[0], {
      text: '@ScruffyMcG truncated… https://t.co/cXMQkk9sQb',
      truncated: true,
      in_reply_to_status_id_str: '1205000000000000000',
      extended_tweet: { full_text: '@ScruffyMcG The whole long complaint about a broken washing machine.' },
    });
    const [m] = parseTwitterWebhook(body, { receivedAt }).messages;
    expect(m?.text).toBe('@ScruffyMcG The whole long complaint about a broken washing machine.');
    expect(m?.thread.inReplyToProviderId).toBe('1205000000000000000');
  });

  it('skips our own tweets and retweets', () => {
    const own = JSON.parse(MENTION);
    own.tweet_create_events[0].user.id_str = '2975699229';
    const retweet = JSON.parse(MENTION);
    retweet.tweet_create_events[0].retweeted_status = { id_str: '743727678734245889', text: 'original' };
    expect(parseTwitterWebhook(own, { receivedAt }).skipped).toEqual([{ reason: 'own_tweet', ref: 'tweet:1205348660982083584' }]);
    expect(parseTwitterWebhook(retweet, { receivedAt }).skipped).toEqual([{ reason: 'retweet', ref: 'tweet:1205348660982083584' }]);
  });

  it('reports other event arrays as skipped', () => {
    const body = {
      for_user_id: '2975699229',
      favorite_events: [{ id: 'fav1', favorited_status: {} }],
      follow_events: [{ type: 'follow' }, { type: 'unfollow' }],
      direct_message_indicate_typing_events: [{ created_timestamp: '1', sender_id: '1' }],
      direct_message_events: [{ type: 'message_delete', id: '9' }],
    };
    const { messages, skipped } = parseTwitterWebhook(body, { receivedAt });
    expect(messages).toEqual([]);
    expect(skipped.map((s) => s.reason)).toEqual([
      'dm_message_delete',
      'favorite_events',
      'follow_events',
      'follow_events',
      'direct_message_indicate_typing_events',
    ]);
    expect(skipped[1]?.ref).toBe('fav1');
  });
});

describe('parseTwitterWebhook: malformed payloads', () => {
  const fieldOf = (body: unknown): string => {
    try {
      parseTwitterWebhook(body, { receivedAt });
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidPayloadError);
      return (err as InvalidPayloadError).field;
    }
    throw new Error('expected InvalidPayloadError');
  };

  it('requires for_user_id', () => {
    const body = JSON.parse(MENTION);
    delete body.for_user_id;
    expect(fieldOf(body)).toBe('for_user_id');
    expect(fieldOf({ for_user_id: 2975699229 })).toBe('for_user_id');
  });

  it('names nested fields', () => {
    const noUser = JSON.parse(MENTION);
    delete noUser.tweet_create_events[0].user.id_str;
    expect(fieldOf(noUser)).toBe('tweet_create_events[0].user.id_str');
    expect(fieldOf({ for_user_id: '1', direct_message_events: [{ type: 'message_create', id: '5' }] })).toBe(
      'direct_message_events[0].message_create',
    );
    const noSender = incomingDm() as { direct_message_events: { message_create: Record<string, unknown> }[] };
    delete noSender.direct_message_events[0]!.message_create['sender_id'];
    expect(fieldOf(noSender)).toBe('direct_message_events[0].message_create.sender_id');
  });
});
