import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/shared/clock.js';
import { bearer, createTestContext, type TestContext } from '../../helpers/context.js';

let ctx: TestContext;
const received: Buffer[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onData(stream, _session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      received.push(Buffer.concat(chunks));
      callback();
    });
  },
});

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  ctx = await createTestContext({ clock: systemClock, env: { SMTP_URL: `smtp://127.0.0.1:${port}`, EMAIL_FROM: 'Support <support@desk.example>' } });
  await ctx.startWorkers();
});
afterAll(async () => {
  await ctx?.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

describe('e-mail reply delivery (smoke)', () => {
  it('sends a threaded reply once and records it as sent', async () => {
    const auth = bearer(ctx.adminToken);
    const raw = 'From: Dana <dana@example.co.il>\r\nTo: support@desk.example\r\nSubject: Broken kettle\r\nMessage-ID: <c-1@example.co.il>\r\n\r\nIt leaks.\r\n';
    const inbound = await ctx.app.inject({ method: 'POST', url: '/webhooks/email', headers: { ...auth, 'content-type': 'message/rfc822' }, payload: raw });
    expect(inbound.statusCode, inbound.body).toBe(200);
    const ticketId = inbound.json().tickets[0].ticketId;
    const reply = await ctx.app.inject({ method: 'POST', url: `/v1/tickets/${ticketId}/messages`, headers: auth, payload: { body: 'Sorry! A new kettle is on its way.', public: true } });
    expect(reply.statusCode, reply.body).toBe(201);
    const messageId = reply.json().message.id;
    const deadline = Date.now() + 10_000;
    let state = 'queued';
    while (state !== 'sent' && Date.now() < deadline) {
      const list = await ctx.app.inject({ method: 'GET', url: `/v1/tickets/${ticketId}/messages`, headers: auth });
      state = list.json().items.find((m: { id: string }) => m.id === messageId).deliveryState;
      if (state !== 'sent') await new Promise((r) => setTimeout(r, 25));
    }
    expect(state).toBe('sent');
    expect(received).toHaveLength(1);
    const mail = await simpleParser(received[0]!);
    expect(mail.inReplyTo).toBe('<c-1@example.co.il>');
    expect(mail.subject).toMatch(/\[#\d+\]/);
    expect(mail.text).toContain('A new kettle');
  });
});
