import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createAgent, manualClock, tokenFor, unique } from '../../helpers/api.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, postEmail, query } from '../../helpers/webhooks.js';

/*
 * Erasure (issue 15): after POST /v1/customers/:id/erase, none of the customer's name, e-mail,
 * phone and message text can be found in ANY column of ANY table (every text, varchar, jsonb,
 * json, bytea, array and tsvector column, discovered from information_schema, so tables added
 * later are covered) nor under the test's Redis prefix, while the KPI report over the period
 * answers the same.
 */

let ctx: TestContext;
let dir: string;
const suffix = unique('z').toLowerCase();
const NAME = `Zorblatt Quintavious ${suffix}`;
const EMAIL = `zorblatt.${suffix}@erasure.example`;
const PHONE = '+972541234567';
const TEXT = `My zorblatt toaster exploded on Quintember ${suffix}`;
const REPLY_TEXT = `Dear Zorblatt ${suffix}, we are sorry about the toaster`;
// The suffix is in every value above and nowhere else: any trace of any of them (a lexeme of the
// search vector, a subject, a file name) contains it.
const NEEDLES = [NAME, EMAIL, PHONE, TEXT, suffix];
// The same person, first known as another customer by another address, merged in since.
const OTHER_NAME = `Zorb Q ${suffix}`;
const OTHER_PHONE = '+972529876543';

function multipartEmail(o: { from: string; subject: string; text: string; attachment: string }): Buffer {
  const boundary = 'b0undary';
  return Buffer.from(
    [
      `From: ${o.from}`,
      'To: service@complaint-desk.example',
      `Subject: ${o.subject}`,
      'Date: Mon, 05 Jan 2026 08:00:00 +0000',
      `Message-ID: <${unique('mail')}@customer.example>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset="utf-8"',
      '',
      o.text,
      `--${boundary}`,
      'Content-Type: text/plain; name="receipt.txt"',
      'Content-Disposition: attachment; filename="receipt.txt"',
      '',
      o.attachment,
      `--${boundary}--`,
      '',
    ].join('\r\n'),
    'utf8',
  );
}

/** Every (table, column) holding text of any kind, as the database describes itself now. */
async function textColumns(): Promise<{ table: string; column: string; type: string }[]> {
  return query<{ table: string; column: string; type: string }>(
    ctx,
    `select c.table_name as table, c.column_name as column, c.data_type as type from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
      where c.table_schema = current_schema() and t.table_type = 'BASE TABLE'
        and (c.data_type in ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea', 'ARRAY') or c.udt_name = 'tsvector')
      order by 1, 2`,
  );
}

/** Where each needle still appears: "table.column: needle". */
async function findInPostgres(needles: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const { table, column, type } of await textColumns()) {
    for (const needle of needles) {
      const condition =
        type === 'bytea'
          ? `position(convert_to($1, 'UTF8') in "${column}") > 0 or encode("${column}", 'escape') ilike '%' || $1 || '%'`
          : `"${column}"::text ilike '%' || $1 || '%'`;
      const [row] = await query<{ n: number }>(ctx, `select count(*)::int as n from "${table}" where ${condition}`, [needle]);
      if (row!.n > 0) found.push(`${table}.${column}: ${needle}`);
    }
  }
  return found;
}

/** Where each needle still appears under the test's Redis prefix: "key: needle". */
async function findInRedis(needles: string[]): Promise<string[]> {
  const redis = new Redis(ctx.config.REDIS_URL);
  const found: string[] = [];
  try {
    const keys = await redis.keys(`${ctx.config.QUEUE_PREFIX}*`);
    for (const key of keys) {
      const type = await redis.type(key);
      let text = '';
      if (type === 'string') text = (await redis.get(key)) ?? '';
      else if (type === 'hash') text = JSON.stringify(await redis.hgetall(key));
      else if (type === 'list') text = JSON.stringify(await redis.lrange(key, 0, -1));
      else if (type === 'set') text = JSON.stringify(await redis.smembers(key));
      else if (type === 'zset') text = JSON.stringify(await redis.zrange(key, 0, -1));
      else if (type === 'stream') text = JSON.stringify(await redis.xrange(key, '-', '+'));
      for (const needle of needles) if (text.toLowerCase().includes(needle.toLowerCase())) found.push(`${key}: ${needle}`);
    }
  } finally {
    redis.disconnect();
  }
  return found;
}

let customerId: string;
let ticketId: string;
let kpisBefore: unknown;
let kpiRange: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cd-erasure-'));
  ctx = await createTestContext({ env: { ...CHANNEL_ENV, ATTACHMENTS_DIR: dir, CSAT_OFFER: 'message' } });
  const clock = manualClock(ctx);
  const start = clock.now();
  const agent = await createAgent(ctx, { name: 'Agent Smith' });
  const agentToken = await tokenFor(ctx, 'agent', agent.id);

  // A ticket by API (name, e-mail, phone), then an e-mail from the same address with an attachment.
  const created = await client(ctx).post('/v1/tickets', { channel: 'email', customer: { name: NAME, email: EMAIL, phone: PHONE }, subject: `Toaster ${suffix}`, body: TEXT, assigneeId: agent.id });
  expect(created.statusCode, created.body).toBe(201);
  ticketId = created.json().id;
  customerId = created.json().customerId;
  clock.advance(60_000);
  const mail = await postEmail(ctx, multipartEmail({ from: `${NAME} <${EMAIL}>`, subject: `Re: Toaster ${suffix}`, text: `${TEXT} again`, attachment: `receipt of ${NAME}` }));
  expect(mail.statusCode, mail.body).toBe(200);
  // A subject changed by an agent (a subject_changed event, ticket.updated), then the same person
  // known by another phone as another customer, merged into this one.
  const { version } = (await client(ctx).get(`/v1/tickets/${ticketId}`)).json();
  const renamed = await client(ctx).patch(`/v1/tickets/${ticketId}`, { subject: `Toaster of ${NAME}` }, { 'if-match': `"${version as number}"` });
  expect(renamed.statusCode, renamed.body).toBe(200);
  const other = await client(ctx).post('/v1/tickets', { channel: 'phone', customer: { name: OTHER_NAME, phone: OTHER_PHONE }, subject: `Call ${suffix}`, body: `${OTHER_NAME} called` });
  expect(other.statusCode, other.body).toBe(201);
  const merged = await client(ctx).post(`/v1/customers/${other.json().customerId as string}/merge`, { targetCustomerId: customerId });
  expect(merged.statusCode, merged.body).toBe(200);
  // A malformed delivery naming the customer: a dead letter.
  const bad = await postEmail(ctx, `this is no e-mail from ${EMAIL} at all`);
  expect(bad.statusCode).toBeGreaterThanOrEqual(400);
  // A public reply (outbox row with the destination), then solve: a survey, answered with a comment.
  clock.advance(60_000);
  const reply = await ctx.app.inject({ method: 'POST', url: `/v1/tickets/${ticketId}/messages`, headers: bearer(agentToken), payload: { body: REPLY_TEXT, public: true, status: 'solved' } });
  expect(reply.statusCode, reply.body).toBe(201);
  const [offer] = await query<{ text: string }>(ctx, `select payload->>'text' as text from outbox where ticket_id = $1 and payload->>'text' like '%/v1/csat/%'`, [ticketId]);
  const token = /\/v1\/csat\/([A-Za-z0-9_-]+)/.exec(offer!.text)![1]!;
  const answered = await ctx.app.inject({ method: 'POST', url: `/v1/csat/${token}`, payload: { score: 2, comment: `${NAME} was not pleased` } });
  expect(answered.statusCode, answered.body).toBe(201);
  // A commitment naming the customer, and a Redis job carrying their data (an e-mail notification).
  const promise = await client(ctx).post(`/v1/tickets/${ticketId}/commitments`, { description: `Call ${PHONE} back`, dueAt: new Date(clock.now().getTime() + 86_400_000).toISOString() });
  expect(promise.statusCode, promise.body).toBe(201);
  await ctx.deps.queues.notifications.add('email', { to: 'lead@desk.example', subject: `Escalated: ${NAME}`, text: TEXT }, { delay: 3_600_000 });

  // The data is really there first, in each of the places the erasure must reach.
  const places = new Set((await findInPostgres(NEEDLES)).map((f) => f.split(':')[0]));
  for (const place of ['customers.name', 'customer_identities.address', 'tickets.subject', 'tickets.description', 'tickets.search', 'messages.body_text', 'inbound_payloads.body', 'dead_letters.body', 'outbox.payload', 'csat_surveys.comment', 'commitments.description', 'ticket_events.data']) {
    expect(places, place).toContain(place);
  }
  expect(await findInRedis([NAME])).not.toEqual([]);
  expect((await readdir(dir)).length).toBeGreaterThan(0);

  clock.advance(60_000);
  kpiRange = `from=${new Date(start.getTime() - 3_600_000).toISOString()}&to=${new Date(clock.now().getTime() + 3_600_000).toISOString()}`;
  const kpis = await client(ctx).get(`/v1/reports/kpis?${kpiRange}&groupBy=channel`);
  expect(kpis.statusCode, kpis.body).toBe(200);
  kpisBefore = kpis.json();
}, 60_000);

afterAll(async () => {
  await ctx?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('POST /v1/customers/:id/erase', () => {
  it('refuses a non-admin (403) and an unknown customer (404), and names the reason field', async () => {
    const supervisor = await tokenFor(ctx, 'supervisor');
    expect((await client(ctx, supervisor).post(`/v1/customers/${customerId}/erase`, { reason: 'x' })).statusCode).toBe(403);
    expect((await client(ctx, supervisor).get(`/v1/customers/${customerId}/export`)).statusCode).toBe(403);
    expect((await client(ctx).post('/v1/customers/00000000-0000-4000-8000-000000000000/erase', { reason: 'x' })).statusCode).toBe(404);
    expect((await client(ctx).post(`/v1/customers/${customerId}/erase`, { reason: 'a\u0000b' })).statusCode).toBe(400);
    const missing = await client(ctx).post(`/v1/customers/${customerId}/erase`, {});
    expect(missing.statusCode).toBe(400);
    expect(JSON.stringify(missing.json().errors)).toContain('reason');
  });

  it('leaves nothing of the customer in any table or in Redis, keeps the KPIs, and emits customer.erased', async () => {
    const res = await client(ctx).post(`/v1/customers/${customerId}/erase`, { reason: 'GDPR request 42' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ customerId, alreadyErased: false, reason: 'GDPR request 42' });
    expect(res.json().removed.redisJobs).toBeGreaterThanOrEqual(1);

    expect(await findInPostgres([...NEEDLES, OTHER_NAME, OTHER_PHONE])).toEqual([]);
    expect(await findInRedis(NEEDLES)).toEqual([]);
    expect(await readdir(dir)).toEqual([]);

    const kpis = await client(ctx).get(`/v1/reports/kpis?${kpiRange}&groupBy=channel`);
    expect(kpis.statusCode).toBe(200);
    expect(kpis.json()).toEqual(kpisBefore);

    // The ticket stays, an anonymous shell with its figures.
    const [shell] = await query<{ status: string; channel: string; solved_at: Date | null }>(ctx, 'select status, channel, solved_at from tickets where id = $1', [ticketId]);
    expect(shell).toMatchObject({ status: 'solved', channel: 'email' });
    expect(shell!.solved_at).not.toBeNull();
    const [event] = await query<{ data: { customerId: string } }>(ctx, `select data from domain_events where type = 'customer.erased'`);
    expect(event?.data.customerId).toBe(customerId);
  });

  it('is idempotent', async () => {
    const again = await client(ctx).post(`/v1/customers/${customerId}/erase`, { reason: 'asked twice' });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toMatchObject({ customerId, alreadyErased: true, reason: 'GDPR request 42' });
  });

  it('a later message from the same address creates a new customer', async () => {
    const mail = await postEmail(ctx, multipartEmail({ from: EMAIL, subject: 'Hello again', text: 'It is me again', attachment: 'nothing' }));
    expect(mail.statusCode, mail.body).toBe(200);
    const ticket = mail.json().tickets[0];
    expect(ticket.newTicket).toBe(true);
    const [row] = await query<{ customer_id: string }>(ctx, 'select customer_id from tickets where id = $1', [ticket.ticketId]);
    expect(row!.customer_id).not.toBe(customerId);
  });

  it('is in the audit trail, without personal values', async () => {
    const res = await client(ctx).get(`/v1/audit?resource=customers/${customerId}`);
    expect(res.statusCode, res.body).toBe(200);
    // Newest first: the second (idempotent) call changed nothing; the first emptied the name.
    const erasures = res.json().items.filter((r: { action: string }) => r.action === 'customers.erase');
    expect(erasures).toHaveLength(2);
    expect(erasures[0]).toMatchObject({ customerId, changes: {} });
    expect(erasures[1]).toMatchObject({ customerId, status: 200, changes: { name: { changed: true, redacted: 'personal' } } });
    expect(JSON.stringify(res.json())).not.toContain(suffix);
  });
});
