import { createHmac } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { tokenFor, unique } from './api.js';
import { bearer, type TestContext } from './context.js';

/**
 * Signing helpers and payload builders for the intake webhooks. Signatures follow
 * /work/shared/channels.md; each channel's test file checks its helper against the test vector
 * given there. Builders give fresh provider ids, so tests sharing a database never collide.
 */

/** Channel secrets for createTestContext({ env }): the test secrets the doc's vectors use. */
export const CHANNEL_ENV = {
  FACEBOOK_APP_SECRET: 'test_app_secret',
  FACEBOOK_VERIFY_TOKEN: 'vt',
  TWITTER_CONSUMER_SECRET: 'test_consumer_secret',
  TWILIO_AUTH_TOKEN: '12345',
  PUBLIC_BASE_URL: 'https://desk.example.com',
  MAILGUN_SIGNING_KEY: 'key-test-signing',
  DEFAULT_PHONE_REGION: 'IL',
} as const;

export interface WebhookResultJson {
  received: number;
  created: number;
  duplicates: number;
  unthreaded: number;
  duplicatePayload: boolean;
  tickets: { ticketId: string; number: number; newTicket: boolean }[];
  skipped: { reason: string; ref?: string }[];
}

// ---------------------------------------------------------------- signatures

const hmac = (algorithm: 'sha1' | 'sha256', key: string, data: string | Buffer, encoding: 'hex' | 'base64') =>
  createHmac(algorithm, key).update(data).digest(encoding);

/** X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256(app secret, raw body). */
export const facebookSignature = (body: string | Buffer, secret: string = CHANNEL_ENV.FACEBOOK_APP_SECRET) => `sha256=${hmac('sha256', secret, body, 'hex')}`;

/** x-twitter-webhooks-signature: "sha256=" + base64 HMAC-SHA256(consumer secret, raw body). */
export const twitterSignature = (body: string | Buffer, secret: string = CHANNEL_ENV.TWITTER_CONSUMER_SECRET) => `sha256=${hmac('sha256', secret, body, 'base64')}`;

/** X-Twilio-Signature: base64 HMAC-SHA1(auth token, URL + each param as key+value in key order). */
export function twilioSignature(url: string, params: Record<string, string>, token: string = CHANNEL_ENV.TWILIO_AUTH_TOKEN): string {
  const data = url + Object.keys(params).sort().map((key) => key + params[key]).join('');
  return hmac('sha1', token, Buffer.from(data, 'utf8'), 'base64');
}

/** Mailgun: hex HMAC-SHA256(signing key, timestamp + token). */
export const mailgunSignature = (timestamp: string, token: string, key: string = CHANNEL_ENV.MAILGUN_SIGNING_KEY) => hmac('sha256', key, timestamp + token, 'hex');

// ---------------------------------------------------------------- payload builders

export const PAGE_ID = '105320418834911';
export const FOR_USER_ID = '2975699229';
const digits = () => `${Date.now()}${Math.floor(Math.random() * 1e6)}`.slice(-16);

/** One Messenger `messages` event from a customer (PSID) to our page. */
export function messengerEvent(o: { psid: string; text?: string; mid?: string; timestamp?: number; attachments?: { type: string; url: string }[]; replyTo?: string }) {
  return {
    sender: { id: o.psid },
    recipient: { id: PAGE_ID },
    timestamp: o.timestamp ?? 1_767_600_000_000,
    message: {
      mid: o.mid ?? unique('m_'),
      ...(o.text !== undefined ? { text: o.text } : {}),
      ...(o.attachments ? { attachments: o.attachments.map((a) => ({ type: a.type, payload: { url: a.url } })) } : {}),
      ...(o.replyTo ? { reply_to: { mid: o.replyTo } } : {}),
    },
  };
}

/** The Page webhook envelope around Messenger events (or any other `messaging` items). */
export const facebookPayload = (...messaging: object[]) => ({ object: 'page', entry: [{ id: PAGE_ID, time: 1_767_600_000_500, messaging }] });

/** A Page `feed` comment change (shape from channels.md §1.4). */
export function feedComment(o: { fromId: string; fromName?: string; message: string; postId?: string; commentId?: string; parentId?: string; verb?: string }) {
  const postId = o.postId ?? `${PAGE_ID}_${digits()}`;
  return {
    object: 'page',
    entry: [
      {
        id: PAGE_ID,
        time: 1_767_600_000,
        changes: [
          {
            field: 'feed',
            value: {
              from: { id: o.fromId, name: o.fromName ?? 'Commenter' },
              post_id: postId,
              comment_id: o.commentId ?? `${postId.split('_')[1]}_${digits()}`,
              parent_id: o.parentId ?? postId,
              created_time: 1_767_600_000,
              item: 'comment',
              verb: o.verb ?? 'add',
              message: o.message,
            },
          },
        ],
      },
    ],
  };
}

/** An Account Activity delivery with one incoming DM. */
export function twitterDm(o: { senderId: string; text: string; id?: string; name?: string }) {
  return {
    for_user_id: FOR_USER_ID,
    direct_message_events: [
      {
        type: 'message_create',
        id: o.id ?? digits(),
        created_timestamp: '1767600000000',
        message_create: { target: { recipient_id: FOR_USER_ID }, sender_id: o.senderId, source_app_id: '268278', message_data: { text: o.text, entities: {} } },
      },
    ],
    users: { [o.senderId]: { id: o.senderId, name: o.name ?? 'Customer', screen_name: `user${o.senderId}` } },
  };
}

/** An Account Activity delivery with one tweet mentioning us (or replying to inReplyTo). */
export function twitterMention(o: { userId: string; text: string; id?: string; inReplyTo?: string; retweet?: boolean }) {
  const id = o.id ?? digits();
  return {
    for_user_id: FOR_USER_ID,
    tweet_create_events: [
      {
        created_at: 'Mon Jan 05 08:00:00 +0000 2026',
        id_str: id,
        text: o.text,
        in_reply_to_status_id_str: o.inReplyTo ?? null,
        in_reply_to_user_id_str: FOR_USER_ID,
        user: { id_str: o.userId, name: 'Tweeter', screen_name: `tw${o.userId}` },
        ...(o.retweet ? { retweeted_status: { id_str: '1' } } : {}),
        timestamp_ms: '1767600000000',
      },
    ],
  };
}

/** Twilio voice status callback parameters (form fields), with a fresh CallSid. */
export function twilioCall(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    AccountSid: 'AC00000000000000000000000000000001',
    ApiVersion: '2010-04-01',
    CallSid: `CA${digits().padStart(32, '0')}`,
    Direction: 'inbound',
    From: '+972501234567',
    To: '+97235550100',
    ...overrides,
  };
}

/** One generic PBX call event (POST /webhooks/phone/events). */
export const phoneEvent = (overrides: Record<string, unknown> = {}) => ({ callId: unique('call-'), event: 'answered', from: '+48221234567', to: '+48225550100', ...overrides });

/** A raw RFC 5322 message: UTF-8 8bit text, an RFC 2047 subject when it is not ASCII. */
export function rawEmail(o: { from: string; subject?: string; text?: string; messageId?: string | null; inReplyTo?: string; references?: string[]; headers?: Record<string, string> }): Buffer {
  const subject = o.subject ?? 'A complaint';
  const lines = [
    `From: ${o.from}`,
    'To: service@complaint-desk.example',
    `Subject: ${/^[\x20-\x7e]*$/.test(subject) ? subject : `=?utf-8?B?${Buffer.from(subject).toString('base64')}?=`}`,
    'Date: Mon, 05 Jan 2026 08:00:00 +0000',
    ...(o.messageId === null ? [] : [`Message-ID: ${o.messageId ?? `<${unique('mail')}@customer.example>`}`]),
    ...(o.inReplyTo ? [`In-Reply-To: ${o.inReplyTo}`] : []),
    ...(o.references ? [`References: ${o.references.join(' ')}`] : []),
    ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset="utf-8"',
    'Content-Transfer-Encoding: 8bit',
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${o.text ?? 'My kettle leaks.'}\r\n`, 'utf8');
}

/** Mailgun Routes forward() fields, signed with a timestamp from the context's clock. */
export function mailgunFields(ctx: TestContext, fields: Record<string, string>): Record<string, string> {
  const timestamp = String(Math.floor(ctx.clock.now().getTime() / 1000));
  const token = unique('tok').padEnd(50, '0').slice(0, 50);
  return { timestamp, token, signature: mailgunSignature(timestamp, token), ...fields };
}

// ---------------------------------------------------------------- posting

/** Strings and Buffers go out as given (signatures cover exact bytes); anything else as JSON. */
const json = (payload: unknown): string | Buffer => (typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload));
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const integrationTokens = new WeakMap<TestContext, Promise<string>>();

/** A cached integration-role key: what an MTA pipe or a PBX connector would hold. */
export function integrationToken(ctx: TestContext): Promise<string> {
  let token = integrationTokens.get(ctx);
  if (!token) {
    token = tokenFor(ctx, 'integration');
    integrationTokens.set(ctx, token);
  }
  return token;
}

/** Signed Facebook delivery; `signature: null` leaves the header out. */
export function postFacebook(ctx: TestContext, payload: unknown, o: { signature?: string | null; contentType?: string } = {}) {
  const body = json(payload);
  const signature = o.signature === undefined ? facebookSignature(body) : o.signature;
  return ctx.app.inject({
    method: 'POST',
    url: '/webhooks/facebook',
    headers: { 'content-type': o.contentType ?? 'application/json', ...(signature === null ? {} : { 'x-hub-signature-256': signature }) },
    payload: body,
  });
}

export function postTwitter(ctx: TestContext, payload: unknown, o: { signature?: string | null } = {}) {
  const body = json(payload);
  const signature = o.signature === undefined ? twitterSignature(body) : o.signature;
  return ctx.app.inject({
    method: 'POST',
    url: '/webhooks/twitter',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'x-twitter-webhooks-signature': signature }) },
    payload: body,
  });
}

/** Twilio form callback signed over PUBLIC_BASE_URL + path (+ query), as Twilio sees our URL. */
export function postTwilio(ctx: TestContext, params: Record<string, string>, o: { query?: string; signature?: string | null; signedUrl?: string } = {}) {
  const path = `/webhooks/phone/twilio${o.query ?? ''}`;
  const signedUrl = o.signedUrl ?? `${ctx.config.PUBLIC_BASE_URL}${path}`;
  const signature = o.signature === undefined ? twilioSignature(signedUrl, params) : o.signature;
  return ctx.app.inject({
    method: 'POST',
    url: path,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature === null ? {} : { 'x-twilio-signature': signature }) },
    payload: form(params),
  });
}

/** Raw RFC 822 to POST /webhooks/email with an integration key (`token: null` sends none). */
export async function postEmail(ctx: TestContext, raw: Buffer | string, o: { token?: string | null; contentType?: string } = {}) {
  const token = o.token === undefined ? await integrationToken(ctx) : o.token;
  return ctx.app.inject({
    method: 'POST',
    url: '/webhooks/email',
    headers: { 'content-type': o.contentType ?? 'message/rfc822', ...(token === null ? {} : bearer(token)) },
    payload: typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw,
  });
}

/** Mailgun forward(): urlencoded fields, or multipart/form-data (undici's encoder) when files come along. */
export async function postMailgun(ctx: TestContext, fields: Record<string, string>, files: { field: string; filename: string; type: string; content: Buffer }[] = []) {
  if (files.length === 0) {
    return ctx.app.inject({ method: 'POST', url: '/webhooks/email/mailgun', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form(fields) });
  }
  const data = new FormData();
  for (const [key, value] of Object.entries(fields)) data.append(key, value);
  for (const f of files) data.append(f.field, new Blob([new Uint8Array(f.content)], { type: f.type }), f.filename);
  const encoded = new Request('http://encoder.invalid/', { method: 'POST', body: data });
  const payload = Buffer.from(await encoded.arrayBuffer());
  return ctx.app.inject({ method: 'POST', url: '/webhooks/email/mailgun', headers: { 'content-type': encoded.headers.get('content-type')! }, payload });
}

export async function postPhoneEvent(ctx: TestContext, event: unknown, o: { token?: string | null } = {}) {
  const token = o.token === undefined ? await integrationToken(ctx) : o.token;
  return ctx.app.inject({
    method: 'POST',
    url: '/webhooks/phone/events',
    headers: { 'content-type': 'application/json', ...(token === null ? {} : bearer(token)) },
    payload: json(event),
  });
}

// ---------------------------------------------------------------- reading back

/** Asserts a 200 webhook answer and returns it. */
export function webhookResult(res: LightMyRequestResponse, expected: Partial<WebhookResultJson> = {}): WebhookResultJson {
  expect(res.statusCode, res.body).toBe(200);
  const result = res.json<WebhookResultJson>();
  expect(result).toMatchObject(expected);
  return result;
}

/** The one ticket a webhook answer created or touched. */
export function onlyTicket(result: WebhookResultJson): { ticketId: string; number: number; newTicket: boolean } {
  expect(result.tickets, JSON.stringify(result)).toHaveLength(1);
  return result.tickets[0]!;
}

/** Plain SQL through the app's own pool: assertions on rows the API does not expose. */
export async function query<T extends object = Record<string, unknown>>(ctx: TestContext, text: string, params: unknown[] = []): Promise<T[]> {
  return (await ctx.deps.pool.query<T & Record<string, unknown>>(text, params)).rows;
}

export async function count(ctx: TestContext, text: string, params: unknown[] = []): Promise<number> {
  const [row] = await query<{ n: number }>(ctx, `select count(*)::int as n from ${text}`, params);
  return row!.n;
}

/** Inbound messages stored for a provider id (0 or 1: the idempotency key). */
export const messagesWithProviderId = (ctx: TestContext, channel: string, providerMessageId: string) =>
  query<{ id: string; ticket_id: string; kind: string; body_text: string; language: string | null; automated: string | null; thread_key: string | null }>(
    ctx,
    'select id, ticket_id, kind, body_text, language, automated, thread_key from messages where channel = $1 and provider_message_id = $2',
    [channel, providerMessageId],
  );

/** The customer a ticket belongs to, and every identity the customer is known by. */
export async function identitiesOfTicket(ctx: TestContext, ticketId: string): Promise<{ customerId: string; identities: string[] }> {
  const rows = await query<{ customer_id: string; kind: string | null; address: string | null }>(
    ctx,
    'select t.customer_id, i.kind, i.address from tickets t left join customer_identities i on i.customer_id = t.customer_id where t.id = $1 order by i.created_at',
    [ticketId],
  );
  return { customerId: rows[0]!.customer_id, identities: rows.filter((r) => r.kind).map((r) => `${r.kind}:${r.address}`) };
}

const INTAKE_ROOTS = ['customers', 'tickets', 'messages', 'inbound_payloads', 'dead_letters'];

/**
 * Empties every table intake writes, and every table that references them (whatever other
 * modules add), children first; API keys, agents and settings stay. DELETE, not TRUNCATE: it is
 * ~30× faster here, which matters for table tests that want a clean slate per row.
 */
export async function resetIntake(ctx: TestContext): Promise<void> {
  const { rows } = await ctx.deps.pool.query<{ name: string }>(
    `with recursive refs(tbl, depth) as (
       select to_regclass(name), 0 from unnest($1::text[]) as name
       union all
       select c.conrelid::regclass, r.depth + 1 from pg_constraint c join refs r on c.confrelid = r.tbl
       where c.contype = 'f' and c.conrelid <> c.confrelid and r.depth < 8
     )
     select tbl::text as name from refs group by tbl order by max(depth) desc`,
    [INTAKE_ROOTS],
  );
  await ctx.deps.pool.query(rows.map((r) => `delete from ${r.name};`).join(' '));
}
