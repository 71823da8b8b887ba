import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRetentionService } from '../../../src/modules/privacy/retention.service.js';
import { ManualClock } from '../../../src/shared/clock.js';
import { client, createTicket, manualClock, patchTicket, unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { until } from '../../helpers/sla.js';
import { CHANNEL_ENV, postEmail, query, rawEmail } from '../../helpers/webhooks.js';

/*
 * The customer's export (GET /v1/customers/:id/export) and retention (PUT/GET /v1/retention, the
 * maintenance worker's 'retention' job, in batches).
 */

let ctx: TestContext;
const DAY = 86_400_000;

function emailWithAttachment(from: string, text: string, content: string): Buffer {
  const b = 'xyzzy';
  return Buffer.from(
    [
      `From: ${from}`,
      'To: service@complaint-desk.example',
      'Subject: Broken blender',
      `Message-ID: <${unique('mail')}@customer.example>`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/mixed; boundary="${b}"`,
      '',
      `--${b}`,
      'Content-Type: text/plain; charset="utf-8"',
      '',
      text,
      `--${b}`,
      'Content-Type: text/plain; name="photo.txt"',
      'Content-Disposition: attachment; filename="photo.txt"',
      '',
      content,
      `--${b}--`,
      '',
    ].join('\r\n'),
  );
}

beforeAll(async () => {
  // The KPI rollups share the maintenance queue (one job at a time) and build every day from the
  // first fact up to the database's clock: a manual clock that ends near the real time (it moves
  // 40 days below) keeps that first build short, so retention is not queued behind it.
  const clock = new ManualClock(new Date(Date.now() - 41 * DAY));
  ctx = await createTestContext({ clock, env: { ...CHANNEL_ENV, RETENTION_INTERVAL_MS: '200', RETENTION_BATCH_SIZE: '2', RETENTION_MAX_BATCHES: '1' } });
});

afterAll(async () => {
  await ctx?.close();
});

describe('GET /v1/customers/:id/export', () => {
  it("streams one JSON document of the customer's data, with attachment links that answer the bytes", async () => {
    const email = `${unique('exp')}@example.org`;
    const mail = await postEmail(ctx, emailWithAttachment(`Nora Export <${email}>`, 'The blender sparks', 'photo bytes'));
    expect(mail.statusCode, mail.body).toBe(200);
    const ticketId = mail.json().tickets[0].ticketId as string;
    const [{ customer_id: customerId }] = (await query<{ customer_id: string }>(ctx, 'select customer_id from tickets where id = $1', [ticketId])) as [{ customer_id: string }];
    const reply = await client(ctx).post(`/v1/tickets/${ticketId}/messages`, { body: 'We will look into it', public: false });
    expect(reply.statusCode, reply.body).toBe(201);

    const res = await client(ctx).get(`/v1/customers/${customerId}/export`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const doc = res.json();
    expect(doc.customers[0]).toMatchObject({ id: customerId, name: 'Nora Export' });
    expect(doc.identities.map((i: { address: string }) => i.address)).toContain(email);
    expect(doc.tickets).toHaveLength(1);
    const [ticket] = doc.tickets;
    expect(ticket.messages.map((m: { bodyText: string }) => m.bodyText)).toEqual(expect.arrayContaining(['The blender sparks', 'We will look into it']));
    expect(ticket.events.length).toBeGreaterThan(0);
    const attachment = ticket.messages.flatMap((m: { attachments: unknown[] }) => m.attachments)[0] as { filename: string; downloadUrl: string };
    expect(attachment.filename).toBe('photo.txt');
    expect(JSON.stringify(doc)).not.toContain('tokenHash');
    // The note by the admin key is about this customer: it is in the audit part.
    expect(doc.audit.map((a: { action: string }) => a.action)).toContain('tickets.messages.create');

    const file = await client(ctx).get(attachment.downloadUrl);
    expect(file.statusCode).toBe(200);
    expect(file.body).toContain('photo bytes');
    expect((await client(ctx).get(`/v1/customers/00000000-0000-4000-8000-000000000000/export`)).statusCode).toBe(404);
  });
});

describe('retention', () => {
  it('PUT /v1/retention validates and stores the rules; GET answers them', async () => {
    const defaults = await client(ctx).get('/v1/retention');
    expect(defaults.statusCode).toBe(200);
    expect(defaults.json()).toMatchObject({ rawPayloadDays: 90, closedTicketMonths: null, auditYears: 5, updatedAt: null });
    const bad = await ctx.app.inject({ method: 'PUT', url: '/v1/retention', headers: { authorization: `Bearer ${ctx.adminToken}` }, payload: { rawPayloadDays: 0, closedTicketMonths: null, auditYears: 5 } });
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().errors)).toContain('rawPayloadDays');
    const put = await ctx.app.inject({ method: 'PUT', url: '/v1/retention', headers: { authorization: `Bearer ${ctx.adminToken}` }, payload: { rawPayloadDays: 30, closedTicketMonths: 1, auditYears: 5 } });
    expect(put.statusCode, put.body).toBe(200);
    expect((await client(ctx).get('/v1/retention')).json()).toMatchObject({ rawPayloadDays: 30, closedTicketMonths: 1, auditYears: 5 });
  });

  it('deletes old payloads and dead letters in batches, anonymizes old closed tickets, keeps the rest', async () => {
    const clock = manualClock(ctx);
    for (let i = 0; i < 3; i++) expect((await postEmail(ctx, rawEmail({ from: `${unique('old')}@example.org`, text: `old complaint ${i}` }))).statusCode).toBe(200);
    expect((await postEmail(ctx, 'no e-mail at all')).statusCode).toBeGreaterThanOrEqual(400);
    const closed = await createTicket(ctx, { subject: 'Closed long ago', body: 'old words' });
    expect((await patchTicket(ctx, closed, { status: 'solved' })).statusCode).toBe(200);
    expect((await patchTicket(ctx, closed, { status: 'closed' })).statusCode).toBe(200);
    clock.advance(40 * DAY);
    expect((await postEmail(ctx, rawEmail({ from: `${unique('new')}@example.org`, text: 'recent complaint' }))).statusCode).toBe(200);
    const old = new Date(clock.now().getTime() - 30 * DAY);
    const [recent] = await query<{ n: number }>(ctx, 'select count(*)::int as n from inbound_payloads where received_at >= $1', [old]);
    expect(recent!.n).toBeGreaterThanOrEqual(1);

    // One run of at most one batch of 2 per rule: the rest waits for the next run.
    const retention = createRetentionService({ db: ctx.deps.db, clock: ctx.clock, logger: ctx.deps.logger, batchSize: 2, maxBatches: 1 });
    const first = await retention.run();
    expect(first).toMatchObject({ rawPayloadsDeleted: 2, deadLettersDeleted: 1, ticketsAnonymized: 1, more: true });

    // The maintenance worker finishes the job on its schedule and reports it (its queue runs one job
    // at a time, the reconciler and KPI rollups too: a generous bound).
    await ctx.startWorkers();
    await until(async () => {
      const [row] = await query<{ n: number }>(ctx, 'select count(*)::int as n from inbound_payloads where received_at < $1', [old]);
      return row!.n === 0 ? true : undefined;
    }, { what: 'old payloads deleted by the maintenance worker', timeoutMs: 30_000 });
    const [left] = await query<{ n: number }>(ctx, 'select count(*)::int as n from inbound_payloads');
    expect(left!.n).toBe(recent!.n); // every old payload gone, the recent ones kept
    expect(await query(ctx, 'select id from dead_letters')).toEqual([]);
    const [shell] = await query<{ subject: string; status: string; description: string }>(ctx, 'select subject, status, description from tickets where id = $1', [closed.id]);
    expect(shell).toEqual({ subject: '', status: 'closed', description: '' });
    const [body] = await query<{ n: number }>(ctx, `select count(*)::int as n from messages where ticket_id = $1 and body_text <> ''`, [closed.id]);
    expect(body!.n).toBe(0);
    const report = await until(async () => {
      const view = (await client(ctx).get('/v1/retention')).json();
      return view.lastRunAt ? view : undefined;
    });
    expect(report.lastRun).toHaveProperty('rawPayloadsDeleted');
  });
});
