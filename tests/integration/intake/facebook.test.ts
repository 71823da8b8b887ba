import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventTypes, expectProblem, manualClock, MINUTE, unique, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import {
  CHANNEL_ENV,
  count,
  facebookPayload,
  facebookSignature,
  feedComment,
  identitiesOfTicket,
  messagesWithProviderId,
  messengerEvent,
  onlyTicket,
  PAGE_ID,
  postFacebook,
  query,
  webhookResult,
} from '../../helpers/webhooks.js';

/** GET/POST /webhooks/facebook: the Messenger Platform and Page feed webhooks (channels.md §1). */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV, BODY_LIMIT_BYTES: '65536' } });
});
afterAll(async () => ctx?.close());

let nextPsid = 7_066_489_083_426_000;
const psid = () => String(++nextPsid);
const handshake = (query: string) => ctx.app.inject({ method: 'GET', url: `/webhooks/facebook?${query}` });

describe('the GET verification handshake', () => {
  it('echoes hub.challenge as plain text when the verify token matches', async () => {
    const res = await handshake('hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vt');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe('1158201444');
  });

  it('answers 403 to a wrong token, a wrong mode or a missing challenge', async () => {
    for (const q of ['hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope', 'hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=vt', 'hub.mode=subscribe&hub.verify_token=vt', '']) {
      expectProblem(await handshake(q), 403, { code: 'verify-token-mismatch' });
    }
  });
});

describe('X-Hub-Signature-256', () => {
  // channels.md §1.3a: the exact bytes Meta sent, and the signature §1.2 gives for them.
  const VECTOR_BODY =
    '{"object":"page","entry":[{"id":"105320418834911","time":1718030451234,"messaging":[{"sender":{"id":"7066489083426785"},"recipient":{"id":"105320418834911"},"timestamp":1718030450987,"message":{"mid":"m_Qw3rTy-EXAMPLE","text":"Hi, my order #4471 arrived damaged"}}]}]}';
  const VECTOR_SIGNATURE = 'sha256=ac5962a23001bb37e48065fb70115b260f382d6a1a9d0d924420d991bca60ae3';

  it('accepts the documented test vector, with no API key', async () => {
    expect(facebookSignature(VECTOR_BODY)).toBe(VECTOR_SIGNATURE);
    const ticket = onlyTicket(webhookResult(await postFacebook(ctx, VECTOR_BODY, { signature: VECTOR_SIGNATURE }), { received: 1, created: 1 }));
    const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
    expect(view).toMatchObject({ channel: 'facebook', subject: 'Hi, my order #4471 arrived damaged', status: 'new', language: 'en' });
    expect((await identitiesOfTicket(ctx, ticket.ticketId)).identities).toEqual(['facebook:105320418834911:7066489083426785']);
  });

  it('accepts upper-case hex and a charset parameter', async () => {
    const body = JSON.stringify(facebookPayload(messengerEvent({ psid: psid(), text: 'Upper-case signature' })));
    webhookResult(await postFacebook(ctx, body, { signature: `sha256=${facebookSignature(body).slice(7).toUpperCase()}`, contentType: 'application/json; charset=UTF-8' }), { created: 1 });
  });

  it('refuses a bad, missing, legacy or re-serialised signature with 401 and stores nothing', async () => {
    const payload = facebookPayload(messengerEvent({ psid: psid(), text: 'Forged complaint', mid: 'm_forged' }));
    const body = JSON.stringify(payload);
    const pretty = JSON.stringify(payload, null, 2); // same JSON, other bytes
    const cases: [string, string | null][] = [
      [body, facebookSignature(body, 'wrong_secret')],
      [body, null],
      [body, ''],
      [body, facebookSignature(body).slice(7)], // no "sha256=" prefix
      [body, `sha1=${facebookSignature(body).slice(7)}`],
      [pretty, facebookSignature(body)],
      [`${body} `, facebookSignature(body)],
    ];
    for (const [raw, signature] of cases) expectProblem(await postFacebook(ctx, raw, { signature }), 401, { code: 'unauthorized' });
    expect(await messagesWithProviderId(ctx, 'facebook', 'm_forged')).toEqual([]);
    expect(await count(ctx, "inbound_payloads where convert_from(body, 'UTF8') like '%m_forged%'")).toBe(0);
  });

  it('answers 413 past the body limit, before anything else', async () => {
    const big = JSON.stringify(facebookPayload(messengerEvent({ psid: psid(), text: 'x'.repeat(70_000) })));
    expectProblem(await postFacebook(ctx, big), 413, { code: 'payload-too-large' });
  });
});

describe('Messenger messages', () => {
  it('opens a ticket, then threads the conversation onto it, with timeline events for each', async () => {
    const customer = psid();
    const first = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'My blender broke after two days' }))), { created: 1 }));
    expect(first.newTicket).toBe(true);
    manualClock(ctx).advance(MINUTE);
    const second = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: customer, text: 'Hello? Anyone there?' }))), { created: 1 }));
    expect(second).toEqual({ ...first, newTicket: false });

    const messages = (await client(ctx).get(`/v1/tickets/${first.ticketId}/messages`)).json<{ items: { body: string; channel: string; direction: string; authorKind: string }[] }>().items;
    expect(messages.map((m) => m.body)).toEqual(['My blender broke after two days', 'Hello? Anyone there?']);
    expect(messages.every((m) => m.channel === 'facebook' && m.direction === 'inbound' && m.authorKind === 'customer')).toBe(true);
    const events = (await client(ctx).get(`/v1/tickets/${first.ticketId}/events`)).json<{ items: { type: string; actorKind: string; data: Record<string, unknown> }[] }>().items;
    expect(events.map((e) => e.type).filter((t) => ['created', 'customer_message'].includes(t))).toEqual(['created', 'customer_message', 'customer_message']);
    expect(events.find((e) => e.type === 'created')).toMatchObject({ actorKind: 'customer', data: { channel: 'facebook', source: 'webhook' } });
    expect(events.filter((e) => e.type === 'customer_message').at(-1)!.data).toMatchObject({ channel: 'facebook', threadedBy: 'conversation' });
  });

  it('handles several entries and events in one delivery', async () => {
    const [a, b] = [psid(), psid()];
    const payload = { object: 'page', entry: [facebookPayload(messengerEvent({ psid: a, text: 'First customer' })).entry[0], facebookPayload(messengerEvent({ psid: b, text: 'Second customer' }), messengerEvent({ psid: b, text: 'Second again' })).entry[0]] };
    const result = webhookResult(await postFacebook(ctx, payload), { received: 3, created: 3 });
    expect(result.tickets.map((t) => t.newTicket)).toEqual([true, true, false]);
    expect(result.tickets[2]!.ticketId).toBe(result.tickets[1]!.ticketId);
  });

  it('keeps attachment metadata (URL, type, name) as attachment rows without bytes', async () => {
    const url = 'https://scontent.xx.fbcdn.net/v/t1.15752-9/example.jpg';
    const ticket = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), attachments: [{ type: 'image', url }] }))), { created: 1 }));
    const [message] = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/messages`)).json<{ items: { attachments: { id: string; url: string; contentType: string; filename: string }[] }[] }>().items;
    expect(message!.attachments).toEqual([expect.objectContaining({ url, contentType: 'image/jpeg', filename: 'example.jpg' })]);
    const rows = await query<{ id: string; content: Buffer | null; size: number; content_type: string }>(ctx, 'select id, content, size, content_type from attachments where id = $1', [message!.attachments[0]!.id]);
    expect(rows).toEqual([{ id: message!.attachments[0]!.id, content: null, size: 0, content_type: 'image/jpeg' }]);
  });

  it('answers 2xx with a skipped reason for echoes, reads, deliveries and empty messages', async () => {
    const customer = psid();
    const payload = facebookPayload(
      { sender: { id: PAGE_ID }, recipient: { id: customer }, timestamp: 1, message: { is_echo: true, app_id: 1517776481860111, mid: unique('m_echo'), text: 'hello, world!' } },
      { sender: { id: customer }, recipient: { id: PAGE_ID }, timestamp: 2, read: { watermark: 1 } },
      { sender: { id: customer }, recipient: { id: PAGE_ID }, timestamp: 3, delivery: { watermark: 1 } },
      { sender: { id: customer }, recipient: { id: PAGE_ID }, timestamp: 4, message: { mid: unique('m_empty'), text: '   ' } },
    );
    const result = webhookResult(await postFacebook(ctx, payload), { received: 0, created: 0, tickets: [] });
    expect(result.skipped.map((s) => s.reason)).toEqual(['echo', 'read', 'delivery', 'empty_message']);
    const [stored] = await query<{ outcome: { skipped: { reason: string }[] } }>(ctx, "select outcome from inbound_payloads where channel = 'facebook' and sha256 = encode(sha256($1::bytea), 'hex')", [Buffer.from(JSON.stringify(payload))]);
    expect(stored!.outcome.skipped).toHaveLength(4);
    expect(await count(ctx, 'customer_identities where address = $1', [`${PAGE_ID}:${customer}`])).toBe(0);
  });

  it('detects Hebrew, Arabic and Russian, stores it on message and ticket, and returns right-to-left text untouched', async () => {
    const texts = {
      he: '\u200Fשלום, ההזמנה שלי (מס׳ 4471) הגיעה שבורה ואף אחד לא עונה!',
      ar: 'مرحبا، وصل طلبي رقم 4471 مكسورا ولا أحد يجيب على رسائلي',
      ru: 'Здравствуйте, мой заказ пришёл разбитым, и никто не отвечает',
    };
    for (const [language, text] of Object.entries(texts)) {
      const ticket = onlyTicket(webhookResult(await postFacebook(ctx, facebookPayload(messengerEvent({ psid: psid(), text }))), { created: 1 }));
      const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
      expect(view.language).toBe(language);
      expect(view.subject).toBe(text);
      const [message] = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}/messages`)).json<{ items: { body: string; language: string }[] }>().items;
      expect(message).toMatchObject({ body: text, language });
    }
    const heOnFacebook = (await client(ctx).get('/v1/tickets?channel=facebook&language=he')).json<{ items: TicketJson[] }>().items;
    expect(heOnFacebook.map((t) => t.subject)).toEqual([texts.he]);
    expect((await client(ctx).get('/v1/tickets?channel=email&language=he')).json<{ items: unknown[] }>().items).toEqual([]);
  });
});

describe('Page feed comments', () => {
  it('opens a ticket for a customer comment and threads replies on the same post onto it', async () => {
    const fromId = psid();
    const postId = `${PAGE_ID}_${psid()}`;
    const first = feedComment({ fromId, fromName: 'Jan Kowalski', postId, message: 'Wasz kurier zgubił moją paczkę' });
    const ticket = onlyTicket(webhookResult(await postFacebook(ctx, first), { created: 1 }));
    const commentId = first.entry[0]!.changes[0]!.value.comment_id;
    const reply = feedComment({ fromId, postId, parentId: commentId, message: 'Nadal czekam na odpowiedź' });
    expect(onlyTicket(webhookResult(await postFacebook(ctx, reply), { created: 1 }))).toEqual({ ...ticket, newTicket: false });
    const view = (await client(ctx).get(`/v1/tickets/${ticket.ticketId}`)).json<TicketJson>();
    expect(view).toMatchObject({ channel: 'facebook', language: 'pl' });
    expect(await eventTypes(ctx, ticket.ticketId)).toContain('customer_message');
    const [customer] = await query<{ name: string }>(ctx, 'select name from customers where id = $1', [view.customerId]);
    expect(customer!.name).toBe('Jan Kowalski');
  });

  it('skips the page’s own comments, other feed items and other fields', async () => {
    const own = feedComment({ fromId: PAGE_ID, fromName: 'SuperTester', message: 'meow 2' });
    expect(webhookResult(await postFacebook(ctx, own), { created: 0 }).skipped).toEqual([expect.objectContaining({ reason: 'page_comment' })]);
    const reaction = { object: 'page', entry: [{ id: PAGE_ID, time: 1, changes: [{ field: 'feed', value: { item: 'reaction', verb: 'add' } }, { field: 'ratings', value: {} }] }] };
    expect(webhookResult(await postFacebook(ctx, reaction), { created: 0 }).skipped.map((s) => s.reason)).toEqual(['feed_not_comment', 'unsupported_field']);
  });
});

describe('malformed deliveries', () => {
  it('answers 400 naming the field and keeps the payload in dead_letters', async () => {
    const cases: [string, string][] = [
      ['{"object":"page","entry":[', 'body'],
      [JSON.stringify({ object: 'user', entry: [] }), 'object'],
      [JSON.stringify({ object: 'page' }), 'entry'],
      [JSON.stringify({ object: 'page', entry: [{ messaging: [messengerEvent({ psid: psid(), text: 'no page id' })] }] }), 'entry[0].id'],
      [JSON.stringify(facebookPayload({ recipient: { id: PAGE_ID }, timestamp: 1, message: { mid: unique('m_'), text: 'who?' } })), 'entry[0].messaging[0].sender.id'],
      [JSON.stringify(facebookPayload({ sender: { id: psid() }, message: { text: 'no mid' } })), 'entry[0].messaging[0].message.mid'],
    ];
    for (const [body, field] of cases) {
      expectProblem(await postFacebook(ctx, body), 400, { code: 'invalid-payload', field });
      const letters = await query<{ reason: string; body: Buffer }>(ctx, "select reason, body from dead_letters where channel = 'facebook' and field = $1", [field]);
      expect(letters, field).toHaveLength(1);
      expect(letters[0]!.body.toString()).toBe(body);
    }
    expect(await count(ctx, "inbound_payloads where convert_from(body, 'UTF8') like '%no page id%'")).toBe(0);
  });
});
