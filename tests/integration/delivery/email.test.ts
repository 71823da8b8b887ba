import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createAgent, expectProblem, unique, type TicketJson } from '../../helpers/api.js';
import type { TestContext } from '../../helpers/context.js';
import { deliveryContext, deliveryEvents, messageRow, outboxOf, postReply, settled, SMTP_451, SMTP_550, startSmtp, type LocalSmtp } from '../../helpers/delivery.js';
import { onlyTicket, postEmail, rawEmail, webhookResult } from '../../helpers/webhooks.js';

/**
 * E-mail replies (issue 5) through the real API, Postgres, BullMQ workers and nodemailer,
 * into a local SMTP server: threading headers, the customer's answer threading back, RTL,
 * SMTP failures; and canned replies (/v1/templates) rendered into what the customer receives.
 */
let ctx: TestContext;
let smtp: LocalSmtp;
beforeAll(async () => {
  smtp = await startSmtp();
  ctx = await deliveryContext({ smtp });
});
afterAll(async () => {
  await ctx?.close();
  await smtp?.close();
});

const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** A customer's mail to us through POST /webhooks/email (integration key, message/rfc822). */
async function inboundMail(o: { from: string; subject?: string; text?: string; messageId: string; inReplyTo?: string; references?: string[] }) {
  return onlyTicket(webhookResult(await postEmail(ctx, rawEmail(o))));
}

describe('a reply to an e-mail ticket', () => {
  it('reaches the SMTP server once, threaded under the customer mail, and the customer answer threads back', async () => {
    const address = `${unique('dana')}@example.co.il`;
    const customerMessageId = `<${unique('c')}@mail.example.co.il>`;
    const inbound = await inboundMail({ from: `Dana Levi <${address}>`, subject: 'Broken kettle', text: 'My kettle leaks from the bottom.', messageId: customerMessageId });
    expect(inbound.newTicket).toBe(true);

    const replyId = await postReply(ctx, inbound.ticketId, 'Sorry to hear that!\n\nA replacement kettle is on its way.');
    const row = await settled(ctx, replyId);
    expect(row).toMatchObject({ state: 'sent', attempts: 1, channel: 'email' });
    const stored = await messageRow(ctx, replyId);
    expect(stored).toMatchObject({ delivery_state: 'sent', delivery_attempts: 1, delivery_error: null });
    expect(stored.message_id_header).toBe(`<outbox-${row.id}@desk.example>`);
    expect(stored.provider_message_id).toBe(stored.message_id_header);
    expect(stored.sent_at).not.toBeNull();

    const mails = smtp.withMessageId(stored.message_id_header!);
    expect(mails).toHaveLength(1);
    const { mail, envelope } = mails[0]!;
    expect(envelope.to).toEqual([address]);
    expect(envelope.from).toBe('support@desk.example');
    expect(mail.from?.text).toBe('"Kettle Co. Support" <support@desk.example>');
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value.map((a) => a.address) : []).toEqual([address]);
    expect(mail.inReplyTo).toBe(customerMessageId);
    expect(asList(mail.references)).toContain(customerMessageId);
    expect(mail.subject).toBe(`Re: Broken kettle [#${inbound.number}]`);
    expect(mail.text).toContain('A replacement kettle is on its way.');
    expect(mail.html).toContain('<p>A replacement kettle is on its way.</p>');
    expect(mail.html).not.toContain('dir="rtl"');
    expect(await deliveryEvents(ctx, inbound.ticketId)).toEqual([
      { type: 'delivered', data: expect.objectContaining({ messageId: replyId, outboxId: row.id, channel: 'email', providerMessageId: stored.message_id_header }) },
    ]);

    // The customer answers our reply: their client sets In-Reply-To to our Message-ID. No
    // "[#N]" in the subject, so only the Message-ID can put it on the ticket.
    const answerId = `<${unique('c')}@mail.example.co.il>`;
    const answer = await inboundMail({
      from: `Dana Levi <${address}>`,
      subject: 'Thanks, one more question',
      text: 'When will it arrive?',
      messageId: answerId,
      inReplyTo: stored.message_id_header!,
      references: [customerMessageId, stored.message_id_header!],
    });
    expect(answer).toMatchObject({ ticketId: inbound.ticketId, newTicket: false });

    // Our next reply answers their latest mail and carries the whole chain.
    const secondId = await postReply(ctx, inbound.ticketId, 'Tomorrow morning.');
    await settled(ctx, secondId);
    const second = smtp.withMessageId((await messageRow(ctx, secondId)).message_id_header!);
    expect(second).toHaveLength(1);
    expect(second[0]!.mail.inReplyTo).toBe(answerId);
    expect(asList(second[0]!.mail.references)).toEqual(expect.arrayContaining([customerMessageId, stored.message_id_header!, answerId]));
    expect(second[0]!.mail.subject).toBe(`Re: Broken kettle [#${inbound.number}]`);
  });

  it('gives a Hebrew reply dir="rtl" in its HTML part', async () => {
    const address = `${unique('noa')}@example.co.il`;
    const inbound = await inboundMail({ from: `נועה <${address}>`, subject: 'הקומקום שלי דולף', text: 'שלום, הקומקום שקניתי בשבוע שעבר דולף מהתחתית ואני רוצה להחליף אותו.', messageId: `<${unique('he')}@mail.example.co.il>` });
    const ticket = (await client(ctx).get(`/v1/tickets/${inbound.ticketId}`)).json<TicketJson>();
    expect(ticket.language).toBe('he');

    const replyId = await postReply(ctx, inbound.ticketId, 'שלום נועה,\n\nקומקום חדש בדרך אלייך.');
    await settled(ctx, replyId);
    const [sent] = smtp.withMessageId((await messageRow(ctx, replyId)).message_id_header!);
    expect(sent).toBeDefined();
    expect(sent!.mail.html).toMatch(/<div dir="rtl" lang="he">/);
    expect(sent!.mail.html).toContain('קומקום חדש בדרך אלייך.');
    expect(sent!.mail.text).toContain('קומקום חדש בדרך אלייך.');
    expect(sent!.mail.headers.get('content-language')).toBe('he');
    expect(sent!.mail.subject).toBe(`Re: הקומקום שלי דולף [#${inbound.number}]`);
  });

  it('answers a ticket an agent opened at the customer e-mail address given', async () => {
    const address = `${unique('walkin')}@example.com`;
    const res = await client(ctx).post('/v1/tickets', { channel: 'email', customer: { email: address, name: 'Avi Cohen' }, subject: 'Phoned about a refund', body: 'Customer called the shop about a refund.' });
    expect(res.statusCode, res.body).toBe(201);
    const ticket = res.json<TicketJson>();

    const replyId = await postReply(ctx, ticket.id, 'Your refund was approved.');
    const row = await settled(ctx, replyId);
    expect(row.state).toBe('sent');
    const [sent] = smtp.withMessageId((await messageRow(ctx, replyId)).message_id_header!);
    expect(sent?.envelope.to).toEqual([address]);
    expect(sent!.mail.to && !Array.isArray(sent!.mail.to) ? sent!.mail.to.value : []).toEqual([{ address, name: 'Avi Cohen' }]);
    expect(sent!.mail.inReplyTo).toBeUndefined();
    expect(sent!.mail.subject).toBe(`Re: Phoned about a refund [#${ticket.number}]`);
  });

  it('sends nothing for an internal note', async () => {
    const inbound = await inboundMail({ from: `${unique('n')}@example.com`, messageId: `<${unique('n')}@example.com>` });
    const before = smtp.attempts.length;
    const res = await client(ctx).post(`/v1/tickets/${inbound.ticketId}/messages`, { body: 'Check the warranty first', public: false });
    expect(res.statusCode, res.body).toBe(201);
    const noteId = res.json<{ message: { id: string } }>().message.id;
    await expect(outboxOf(ctx, noteId)).rejects.toThrow(/no outbox row/);
    expect((await messageRow(ctx, noteId)).delivery_state).toBeNull();
    expect(smtp.attempts.length).toBe(before);
  });
});

describe('SMTP failures', () => {
  it('retries a 451 twice and sends the mail once on the third attempt', async () => {
    const inbound = await inboundMail({ from: `${unique('grey')}@example.com`, subject: 'Greylisted', messageId: `<${unique('g')}@example.com>` });
    const before = smtp.attempts.length;
    smtp.faults.failNext(2, SMTP_451);
    const replyId = await postReply(ctx, inbound.ticketId, 'Third time lucky.');
    const row = await settled(ctx, replyId);
    expect(row).toMatchObject({ state: 'sent', attempts: 3, last_error: null });
    expect(smtp.attempts.slice(before).map((a) => a.code)).toEqual([451, 451, 250]);
    const header = (await messageRow(ctx, replyId)).message_id_header!;
    expect(smtp.withMessageId(header)).toHaveLength(1);
    expect(await messageRow(ctx, replyId)).toMatchObject({ delivery_state: 'sent', delivery_attempts: 3, delivery_error: null });
    const events = await deliveryEvents(ctx, inbound.ticketId);
    expect(events.map((e) => e.type)).toEqual(['delivery_failed', 'delivery_failed', 'delivered']);
    expect(events.slice(0, 2).map((e) => e.data.attempt)).toEqual([1, 2]);
    expect(String(events[0]!.data.error)).toMatch(/451/);
  });

  it('gives up at once on a 550: the reply is dead after one attempt', async () => {
    const inbound = await inboundMail({ from: `${unique('gone')}@example.com`, subject: 'Mailbox gone', messageId: `<${unique('x')}@example.com>` });
    const before = smtp.attempts.length;
    smtp.faults.failNext(1, SMTP_550);
    const replyId = await postReply(ctx, inbound.ticketId, 'Hello?');
    const row = await settled(ctx, replyId);
    expect(row).toMatchObject({ state: 'dead', attempts: 1 });
    expect(row.last_error).toMatch(/refused the reply.*550/);
    expect(smtp.attempts.slice(before).map((a) => a.code)).toEqual([550]);
    expect(await messageRow(ctx, replyId)).toMatchObject({ delivery_state: 'dead', delivery_attempts: 1 });
    const events = await deliveryEvents(ctx, inbound.ticketId);
    expect(events).toEqual([{ type: 'delivery_dead', data: expect.objectContaining({ code: 'smtp-rejected', outboxId: row.id }) }]);
  });
});

// ---------------------------------------------------------------- templates

interface TemplateJson {
  id: string;
  name: string;
  language: string;
  subject: string | null;
  body: string;
  createdAt: string;
  updatedAt: string;
}

async function createTemplate(body: Record<string, unknown>): Promise<TemplateJson> {
  const res = await client(ctx).post('/v1/templates', body);
  expect(res.statusCode, res.body).toBe(201);
  return res.json<TemplateJson>();
}

async function emailTicket(o: { language?: string; name?: string; email?: string; customerId?: string } = {}): Promise<TicketJson> {
  const customer = o.customerId ? { customerId: o.customerId } : { customer: { email: o.email ?? `${unique('c')}@example.com`, name: o.name ?? 'Noa Levi' } };
  const res = await client(ctx).post('/v1/tickets', { channel: 'email', ...customer, subject: 'Late delivery', body: 'Where is my parcel?', ...(o.language ? { language: o.language } : {}) });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<TicketJson>();
}

const bodyOf = async (ticketId: string, messageId: string) =>
  (await client(ctx).get(`/v1/tickets/${ticketId}/messages`)).json<{ items: { id: string; body: string }[] }>().items.find((m) => m.id === messageId)!.body;

describe('/v1/templates', () => {
  it('creates, lists, reads, changes and deletes templates; name + language is unique', async () => {
    const name = unique('apology');
    const en = await createTemplate({ name, language: 'en', subject: 'Sorry', body: 'Dear {{customer.name}}, sorry about ticket {{ticket.number}}.' });
    expect(en).toMatchObject({ name, language: 'en', subject: 'Sorry', body: 'Dear {{customer.name}}, sorry about ticket {{ticket.number}}.', id: expect.any(String) });
    const he = await createTemplate({ name, language: 'he', body: 'שלום {{customer.name}}, מצטערים על פנייה {{ticket.number}}.' });
    expect(he.subject).toBeNull();

    const duplicate = expectProblem(await client(ctx).post('/v1/templates', { name, language: 'en', body: 'Another' }), 409, { code: 'duplicate' });
    expect(duplicate.detail).toContain(name);

    const list = await client(ctx).get(`/v1/templates?name=${encodeURIComponent(name)}`);
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json<{ items: TemplateJson[] }>().items.map((t) => t.language)).toEqual(['en', 'he']);
    const hebrewOnly = await client(ctx).get(`/v1/templates?name=${encodeURIComponent(name)}&language=he`);
    expect(hebrewOnly.json<{ items: TemplateJson[] }>().items.map((t) => t.id)).toEqual([he.id]);

    const read = await client(ctx).get(`/v1/templates/${en.id}`);
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toEqual(en);

    const patched = await client(ctx).patch(`/v1/templates/${en.id}`, { body: 'Hello {{customer.name}}' });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json<TemplateJson>()).toMatchObject({ id: en.id, body: 'Hello {{customer.name}}', language: 'en', subject: 'Sorry' });
    // Renaming the Hebrew version into the English slot collides.
    expectProblem(await client(ctx).patch(`/v1/templates/${he.id}`, { language: 'en' }), 409, { code: 'duplicate' });

    const removed = await client(ctx).delete(`/v1/templates/${en.id}`);
    expect(removed.statusCode, removed.body).toBe(204);
    expectProblem(await client(ctx).get(`/v1/templates/${en.id}`), 404);
    expectProblem(await client(ctx).delete(`/v1/templates/${en.id}`), 404);
    expectProblem(await client(ctx).patch(`/v1/templates/${en.id}`, { body: 'x' }), 404);
  });

  it('validates the body', async () => {
    expectProblem(await client(ctx).post('/v1/templates', { name: 'x', language: 'Hebrew', body: 'b' }), 400, { field: 'body.language' });
    expectProblem(await client(ctx).post('/v1/templates', { name: 'x', language: 'en', body: '   ' }), 400, { field: 'body.body' });
    expectProblem(await client(ctx).post('/v1/templates', { language: 'en', body: 'b' }), 400, { field: 'body.name' });
    expectProblem(await client(ctx).get('/v1/templates/not-a-uuid'), 400, { field: 'path.id' });
  });
});

describe('replying with a template', () => {
  it('renders the variables in the version of the ticket language, and that is what the customer receives', async () => {
    const name = unique('shipping');
    const en = await createTemplate({ name, language: 'en', body: 'Hi {{customer.name}}, your ticket #{{ticket.number}} ({{ticket.subject}}) is with {{agent.name}}.' });
    await createTemplate({ name, language: 'he', body: 'שלום {{customer.name}}, פנייה מספר {{ticket.number}} בטיפול של {{agent.name}}. {{unknown.thing}}' });
    const agent = await createAgent(ctx, { name: 'Dalia' });
    const ticket = await emailTicket({ language: 'he', name: 'Noa Levi' });

    const replyId = await postReply(ctx, ticket.id, { templateId: en.id, authorAgentId: agent.id });
    const expected = `שלום Noa Levi, פנייה מספר ${ticket.number} בטיפול של Dalia. {{unknown.thing}}`;
    expect(await bodyOf(ticket.id, replyId)).toBe(expected);

    await settled(ctx, replyId);
    const [mail] = smtp.withMessageId((await messageRow(ctx, replyId)).message_id_header!);
    expect(mail?.mail.text?.trim()).toBe(expected);
    expect(mail!.mail.html).toContain('<div dir="rtl" lang="he">');
  });

  it('keeps the chosen version when the ticket language has none', async () => {
    const name = unique('thanks');
    const en = await createTemplate({ name, language: 'en', body: 'Thanks {{customer.name}} (#{{ticket.number}})' });
    const ticket = await emailTicket({ language: 'pl', name: 'Jan Kowalski' });
    const replyId = await postReply(ctx, ticket.id, { templateId: en.id });
    expect(await bodyOf(ticket.id, replyId)).toBe(`Thanks Jan Kowalski (#${ticket.number})`);
  });

  it('keeps the chosen version when it already is in the ticket language, whatever the customer profile says', async () => {
    // The customer first wrote in English (their profile language), this ticket is in Hebrew.
    const name = unique('followup');
    await createTemplate({ name, language: 'en', body: 'English version' });
    const he = await createTemplate({ name, language: 'he', body: 'גרסה עברית' });
    const first = await emailTicket({ language: 'en' });
    const ticket = await emailTicket({ language: 'he', customerId: first.customerId });
    expect(ticket.customerId).toBe(first.customerId);
    const replyId = await postReply(ctx, ticket.id, { templateId: he.id });
    expect(await bodyOf(ticket.id, replyId)).toBe('גרסה עברית');
  });

  it('answers 400 to body and templateId together, to neither, and to an unknown template', async () => {
    const ticket = await emailTicket();
    const en = await createTemplate({ name: unique('t'), language: 'en', body: 'x' });
    expectProblem(await client(ctx).post(`/v1/tickets/${ticket.id}/messages`, { body: 'Hello', templateId: en.id, public: true }), 400, { field: 'body.body' });
    expectProblem(await client(ctx).post(`/v1/tickets/${ticket.id}/messages`, { public: true }), 400, { field: 'body.body' });
    expectProblem(await client(ctx).post(`/v1/tickets/${ticket.id}/messages`, { templateId: '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b', public: true }), 400, { field: 'body.templateId' });
    const messages = (await client(ctx).get(`/v1/tickets/${ticket.id}/messages`)).json<{ items: { direction: string }[] }>().items;
    expect(messages.filter((m) => m.direction === 'outbound')).toEqual([]);
  });
});
