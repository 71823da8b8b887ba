import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, unique, type TicketJson } from '../../helpers/api.js';
import type { TestContext } from '../../helpers/context.js';
import { deliveryContext, deliveryEvents, messageRow, outboxOf, postReply, settled, startSmtp, type LocalSmtp } from '../../helpers/delivery.js';
import { clockOf, createPolicy, eventRows, getTicket } from '../../helpers/sla.js';
import { onlyTicket, postEmail, rawEmail, webhookResult } from '../../helpers/webhooks.js';

/**
 * Replies and the first-response clock (issue 5 with issue 4's SLA engine), and the phone
 * channel, where a reply is a callback task and the logged call is the response.
 */
let ctx: TestContext;
let smtp: LocalSmtp;
beforeAll(async () => {
  smtp = await startSmtp();
  ctx = await deliveryContext({ smtp });
  // Every ticket of this file's database gets an hour for the first response.
  await createPolicy(ctx, { targets: { firstResponse: 3600 } });
});
afterAll(async () => {
  await ctx?.close();
  await smtp?.close();
});

async function phoneTicket(): Promise<TicketJson> {
  const phone = `+97250${String(Math.floor(1_000_000 + Math.random() * 8_999_999))}`;
  const res = await client(ctx).post('/v1/tickets', { channel: 'phone', customer: { phone, name: 'Moshe' }, subject: 'Call me back about the invoice', body: 'Left a message with reception' });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<TicketJson>();
}

describe('the first-response clock', () => {
  it('is stopped by the first public reply, not by a note', async () => {
    const inbound = onlyTicket(webhookResult(await postEmail(ctx, rawEmail({ from: `${unique('c')}@example.com`, subject: 'No hot water', messageId: `<${unique('m')}@example.com>` }))));
    expect(clockOf(await getTicket(ctx, inbound.ticketId), 'first_response').state).toBe('running');

    const note = await client(ctx).post(`/v1/tickets/${inbound.ticketId}/messages`, { body: 'Asked the plumber', public: false });
    expect(note.statusCode, note.body).toBe(201);
    const afterNote = await getTicket(ctx, inbound.ticketId);
    expect(clockOf(afterNote, 'first_response').state).toBe('running');
    expect(afterNote.firstResponseAt).toBeNull();

    const replyId = await postReply(ctx, inbound.ticketId, 'A plumber is coming at 10:00.');
    const afterReply = await getTicket(ctx, inbound.ticketId);
    expect(clockOf(afterReply, 'first_response').state).toBe('met');
    expect(afterReply.firstResponseAt).not.toBeNull();
    // The clock stops on the reply itself; the delivery still happens after it.
    expect((await settled(ctx, replyId)).state).toBe('sent');
    expect(clockOf(await getTicket(ctx, inbound.ticketId), 'first_response').state).toBe('met');
  });
});

describe('phone', () => {
  it('turns a reply into a callback task: the outbox row is sent as callback:<outbox id>, nothing leaves', async () => {
    const ticket = await phoneTicket();
    const before = smtp.attempts.length;
    const replyId = await postReply(ctx, ticket.id, 'Please call back about the invoice; the customer wants a copy.');
    const row = await settled(ctx, replyId);
    expect(row).toMatchObject({ state: 'sent', channel: 'phone', attempts: 1, provider_message_id: `callback:${row.id}` });
    expect(row.payload).toMatchObject({ channel: 'phone', to: { kind: 'phone', address: expect.stringMatching(/^\+97250\d{7}$/) } });
    expect(await messageRow(ctx, replyId)).toMatchObject({ delivery_state: 'sent', provider_message_id: `callback:${row.id}`, channel: 'phone' });
    expect(await deliveryEvents(ctx, ticket.id)).toEqual([{ type: 'delivered', data: expect.objectContaining({ channel: 'phone', providerMessageId: `callback:${row.id}` }) }]);
    expect(smtp.attempts.length).toBe(before);
  });

  it('a logged call that reached the customer stops the first-response clock; one nobody answered does not', async () => {
    const ticket = await phoneTicket();
    expect(clockOf(ticket, 'first_response').state).toBe('running');

    const missed = await client(ctx).post(`/v1/tickets/${ticket.id}/calls`, { outcome: 'no_answer' });
    expect(missed.statusCode, missed.body).toBe(201);
    expect(clockOf(await getTicket(ctx, ticket.id), 'first_response').state).toBe('running');

    const call = await client(ctx).post(`/v1/tickets/${ticket.id}/calls`, { outcome: 'resolved', durationSec: 95, note: 'Sent the invoice copy by post' });
    expect(call.statusCode, call.body).toBe(201);
    const { message } = call.json<{ message: { id: string; kind: string; direction: string; public: boolean; channel: string; body: string } }>();
    expect(message).toMatchObject({ kind: 'call', direction: 'outbound', public: true, channel: 'phone', body: 'Call resolved (95 s): Sent the invoice copy by post' });
    const conversation = (await client(ctx).get(`/v1/tickets/${ticket.id}/messages`)).json<{ items: { id: string; kind: string }[] }>();
    expect(conversation.items.filter((m) => m.kind === 'call').map((m) => m.id)).toContain(message.id);

    const after = await getTicket(ctx, ticket.id);
    expect(clockOf(after, 'first_response').state).toBe('met');
    expect(after.firstResponseAt).not.toBeNull();
    const logged = await eventRows(ctx, ticket.id, 'call_logged');
    expect(logged.map((e) => e.data)).toEqual([
      expect.objectContaining({ outcome: 'no_answer' }),
      expect.objectContaining({ messageId: message.id, outcome: 'resolved', durationSec: 95 }),
    ]);
    expect(await eventRows(ctx, ticket.id, 'call_answered')).toHaveLength(1);
    // A logged call is not a message to deliver.
    await expect(outboxOf(ctx, message.id)).rejects.toThrow(/no outbox row/);
  });
});
