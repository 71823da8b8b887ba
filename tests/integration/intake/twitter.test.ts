import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, expectProblem, manualClock, MINUTE, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import {
  CHANNEL_ENV,
  FOR_USER_ID,
  identitiesOfTicket,
  messagesWithProviderId,
  onlyTicket,
  postTwitter,
  query,
  twitterDm,
  twitterMention,
  twitterSignature,
  webhookResult,
} from '../../helpers/webhooks.js';

/** GET/POST /webhooks/twitter: X Account Activity API (channels.md §2). */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
});
afterAll(async () => ctx?.close());

let nextUser = 1_000;
const userId = () => `1205290247124${++nextUser}`;

describe('the CRC challenge', () => {
  it('answers base64 HMAC-SHA256 of crc_token (a token shaped like the ones X sends)', async () => {
    // channels.md's test vector (challenge123) is checked in the unit test: it is shorter than
    // the 16 characters the route takes; this one is a token X really sent (base64url of a UUID).
    const res = await ctx.app.inject({ method: 'GET', url: '/webhooks/twitter?crc_token=M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ response_token: 'sha256=eoMavcfkBw1taFDN2uI4Jx8BfNGqoYUIPafsvsxtOrI=' });
  });

  it('answers 400 without a crc_token', async () => {
    expectProblem(await ctx.app.inject({ method: 'GET', url: '/webhooks/twitter' }), 400, { field: 'query.crc_token' });
  });

  it('accepts the extra nonce X may send alongside the token', async () => {
    const res = await ctx.app.inject({ method: 'GET', url: '/webhooks/twitter?crc_token=NjM5ODk5Yzk-Ou_Mz0=&nonce=MTUzNTk3' });
    expect(res.statusCode, res.body).toBe(200);
  });

  it('is not a signing oracle: a JSON body as crc_token is refused, and its would-be signature forges nothing', async () => {
    const forged = JSON.stringify(twitterDm({ senderId: userId(), text: 'Forged DM through the CRC oracle' }));
    const res = await ctx.app.inject({ method: 'GET', url: `/webhooks/twitter?crc_token=${encodeURIComponent(forged)}` });
    expectProblem(res, 400, { field: 'query.crc_token' });
    expect(res.body).not.toContain('sha256=');
    // What the oracle used to hand out: posting the body with it must not create a ticket.
    // (Without the fix this signature came from the CRC answer and the POST created a DM ticket.)
    const stolen = res.json<{ response_token?: string }>().response_token ?? 'sha256=';
    expectProblem(await postTwitter(ctx, forged, { signature: stolen }), 401);
    expect(await messagesWithProviderId(ctx, 'twitter', `dm:${JSON.parse(forged).direct_message_events[0].id}`)).toEqual([]);
    for (const token of ['{"a":1}', 'a'.repeat(129), 'has space', 'new\nline', '']) {
      expectProblem(await ctx.app.inject({ method: 'GET', url: `/webhooks/twitter?crc_token=${encodeURIComponent(token)}` }), 400, { field: 'query.crc_token' });
    }
  });

  it('signs no scalar JSON either: numbers, true, false, null and short words are refused', async () => {
    // Each of these is a JSON text, so HMAC(secret, token) would be a valid signature for a POST
    // whose body is that text; none may be answered, however long.
    for (const token of ['1', 'null', 'true', 'false', '12345678901234567890', '1234567890123456e10', '-1234567890123456', 'abc123', 'challenge123']) {
      const res = await ctx.app.inject({ method: 'GET', url: `/webhooks/twitter?crc_token=${encodeURIComponent(token)}` });
      expectProblem(res, 400, { field: 'query.crc_token' });
      expect(res.body).not.toContain('sha256=');
    }
  });
});

describe('x-twitter-webhooks-signature', () => {
  it('accepts a correct signature and refuses wrong, hex, missing or re-serialised ones with 401', async () => {
    const payload = twitterDm({ senderId: userId(), text: 'Signed DM' });
    const body = JSON.stringify(payload);
    const hex = `sha256=${Buffer.from(twitterSignature(body).slice(7), 'base64').toString('hex')}`;
    for (const signature of [twitterSignature(body, 'wrong'), hex, null, twitterSignature(body).slice(7)]) {
      expectProblem(await postTwitter(ctx, body, { signature }), 401, { code: 'unauthorized' });
    }
    expectProblem(await postTwitter(ctx, JSON.stringify(payload, null, 1), { signature: twitterSignature(body) }), 401);
    expect(await messagesWithProviderId(ctx, 'twitter', `dm:${payload.direct_message_events[0]!.id}`)).toEqual([]);
    webhookResult(await postTwitter(ctx, body), { created: 1 });
  });
});

describe('direct messages', () => {
  it('opens a ticket for an incoming DM and threads the next DM of the conversation onto it', async () => {
    const sender = userId();
    const first = twitterDm({ senderId: sender, text: 'Моя посылка потерялась, трек-номер не обновляется неделю', name: 'Иван' });
    const ticket = onlyTicket(webhookResult(await postTwitter(ctx, first), { created: 1 }));
    const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
    expect(view).toMatchObject({ channel: 'twitter', language: 'ru', status: 'new' });
    expect((await identitiesOfTicket(ctx, ticket.ticketId)).identities).toEqual([`twitter:${sender}`]);
    const [identity] = await query<{ display_name: string; handle: string }>(ctx, "select display_name, handle from customer_identities where kind = 'twitter' and address = $1", [sender]);
    expect(identity).toEqual({ display_name: 'Иван', handle: `user${sender}` });

    const next = onlyTicket(webhookResult(await postTwitter(ctx, twitterDm({ senderId: sender, text: 'Ответьте, пожалуйста' })), { created: 1 }));
    expect(next).toEqual({ ...ticket, newTicket: false });
  });

  it('skips our own outgoing DM (the Zammad fixture: sender is for_user_id) and typing/read events', async () => {
    // channels.md §2.3, verbatim params of zammad test/data/twitter/webhook1_direct_message.json
    const zammad =
      '{"for_user_id":"123","direct_message_events":[{"type":"message_create","id":"1062015437679050760","created_timestamp":"1542039186292","message_create":{"target":{"recipient_id":"456"},"sender_id":"123","source_app_id":"268278","message_data":{"text":"Hey! Hello!","entities":{"hashtags":[],"symbols":[],"user_mentions":[],"urls":[]}}}}],"apps":{"268278":{"id":"268278","name":"Twitter Web Client","url":"http://twitter.com"}},"users":{"123":{"id":"123","created_timestamp":"1476091912921","name":"Zammad HQ","screen_name":"zammadhq","protected":false,"verified":false,"followers_count":426,"friends_count":509,"statuses_count":436,"profile_image_url_https":"https://pbs.twimg.com/profile_images/785412960797745152/wxdIvejo_normal.jpg"},"456":{"id":"456","created_timestamp":"1290730789000","name":"Martin Edenhofer","screen_name":"medenhofer","protected":false,"verified":false,"profile_image_url_https":"https://pbs.twimg.com/profile_images/794220000450150401/D-eFg44R_normal.jpg"}}}';
    const result = webhookResult(await postTwitter(ctx, zammad), { received: 0, created: 0 });
    expect(result.skipped).toEqual([{ reason: 'own_message', ref: 'dm:1062015437679050760' }]);

    const typing = { for_user_id: FOR_USER_ID, direct_message_indicate_typing_events: [{ created_timestamp: '1', sender_id: userId(), target: { recipient_id: FOR_USER_ID } }] };
    expect(webhookResult(await postTwitter(ctx, typing), { created: 0 }).skipped.map((s) => s.reason)).toEqual(['direct_message_indicate_typing_events']);
  });
});

describe('mentions and replies', () => {
  it('opens a ticket for the documented mention and threads later tweets of that user onto it', async () => {
    // channels.md §2.3, condensed zammad tweet_create-user_mention.yml, with our account as for_user_id.
    const mention = JSON.stringify({
      for_user_id: FOR_USER_ID,
      user_has_blocked: false,
      tweet_create_events: [
        {
          created_at: 'Fri Dec 13 04:48:09 +0000 2019',
          id: 1205348660982083584,
          id_str: '1205348660982083584',
          text: '@ScruffyMcG This is a test of Twitter API webhooks.',
          in_reply_to_status_id: null,
          in_reply_to_status_id_str: null,
          in_reply_to_user_id_str: FOR_USER_ID,
          user: { id: 1205290247124217856, id_str: '1205290247124217856', name: 'pennbrooke', screen_name: 'pennbrooke1' },
          entities: { hashtags: [], urls: [], user_mentions: [{ screen_name: 'ScruffyMcG', id_str: FOR_USER_ID, indices: [0, 11] }], symbols: [] },
          lang: 'en',
          timestamp_ms: '1576212489730',
        },
      ],
    });
    const ticket = onlyTicket(webhookResult(await postTwitter(ctx, mention), { created: 1 }));
    const [stored] = await messagesWithProviderId(ctx, 'twitter', 'tweet:1205348660982083584');
    expect(stored).toMatchObject({ ticket_id: ticket.ticketId, body_text: '@ScruffyMcG This is a test of Twitter API webhooks.', language: 'en' });
    // The user id beyond 2^53 is kept exactly: only the *_str ids are read.
    expect((await identitiesOfTicket(ctx, ticket.ticketId)).identities).toEqual(['twitter:1205290247124217856']);

    manualClock(ctx).advance(MINUTE);
    const followUp = twitterMention({ userId: '1205290247124217856', text: '@ScruffyMcG still waiting', inReplyTo: '1205348660982083584' });
    expect(onlyTicket(webhookResult(await postTwitter(ctx, followUp), { created: 1 }))).toEqual({ ...ticket, newTicket: false });
    const sentAt = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/messages`)).json<{ items: { sentAt: string }[] }>().items[0]!.sentAt;
    expect(sentAt).toBe('2019-12-13T04:48:09.730Z');
  });

  it('skips retweets, our own tweets and favorites with reasons', async () => {
    const payload = {
      for_user_id: FOR_USER_ID,
      tweet_create_events: [
        twitterMention({ userId: userId(), text: 'RT @us: great service', retweet: true }).tweet_create_events[0],
        twitterMention({ userId: FOR_USER_ID, text: 'Our own reply' }).tweet_create_events[0],
      ],
      favorite_events: [{ id: 'fav1', favorited_status: {} }],
    };
    const result = webhookResult(await postTwitter(ctx, payload), { received: 0, created: 0 });
    expect(result.skipped.map((s) => s.reason)).toEqual(['retweet', 'own_tweet', 'favorite_events']);
  });

  it('detects Arabic in a mention and returns it untouched', async () => {
    const text = '@support طلبي رقم 55107 لم يصل بعد، أرجو المساعدة';
    const ticket = onlyTicket(webhookResult(await postTwitter(ctx, twitterMention({ userId: userId(), text })), { created: 1 }));
    const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
    expect(view).toMatchObject({ language: 'ar', subject: text });
    const listed = (await client(ctx).get('/v1/tickets?channel=twitter&language=ar')).json<{ items: TicketJson[] }>().items;
    expect(listed.map((t) => t.id)).toEqual([ticket.ticketId]);
  });
});

describe('malformed deliveries', () => {
  it('answers 400 naming the field, dead-lettered', async () => {
    const cases: [string, string][] = [
      [JSON.stringify({ direct_message_events: [] }), 'for_user_id'],
      [JSON.stringify({ for_user_id: FOR_USER_ID, direct_message_events: [{ type: 'message_create', id: '9' }] }), 'direct_message_events[0].message_create'],
      [JSON.stringify({ for_user_id: FOR_USER_ID, tweet_create_events: [{ id_str: '1', text: 'no user' }] }), 'tweet_create_events[0].user'],
      ['not json', 'body'],
    ];
    for (const [body, field] of cases) {
      expectProblem(await postTwitter(ctx, body), 400, { code: 'invalid-payload', field });
      const letters = await query<{ body: Buffer }>(ctx, "select body from dead_letters where channel = 'twitter' and field = $1", [field]);
      expect(letters.map((l) => l.body.toString())).toEqual([body]);
    }
  });
});
