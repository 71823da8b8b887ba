import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventTypes, expectProblem, manualClock, MINUTE, tokenFor, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, identitiesOfTicket, messagesWithProviderId, onlyTicket, phoneEvent, postPhoneEvent, query, webhookResult } from '../../helpers/webhooks.js';

/** POST /webhooks/phone/events: the generic PBX/CTI JSON event, authenticated by an integration key. */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
});
afterAll(async () => ctx?.close());

const ticket = async (id: string) => (await client(ctx).get(`/v1/tickets/${id}`)).json<TicketJson>();

describe('authentication', () => {
  it('needs an integration or admin key: 401 without, 403 for an agent key', async () => {
    expectProblem(await postPhoneEvent(ctx, phoneEvent(), { token: null }), 401, { code: 'unauthorized' });
    expectProblem(await postPhoneEvent(ctx, phoneEvent(), { token: await tokenFor(ctx, 'agent') }), 403, { code: 'forbidden' });
    webhookResult(await postPhoneEvent(ctx, phoneEvent({ event: 'ringing' }), { token: ctx.adminToken }), { received: 0 });
  });
});

describe('call events', () => {
  it('logs an answered call (Polish number, E.164) as the first response', async () => {
    const event = phoneEvent({ event: 'answered', from: '+48 22 123 45 67', durationSec: 95, agentId: 'ext-204', at: '2026-01-05T08:40:00+01:00' });
    const created = onlyTicket(webhookResult(await postPhoneEvent(ctx, event), { created: 1 }));
    expect(await ticket(created.ticketId)).toMatchObject({ channel: 'phone', status: 'open', firstResponseAt: '2026-01-05T07:40:00.000Z', subject: 'Call from +48221234567 (1m 35s)' });
    expect(await eventTypes(ctx, created.ticketId)).toEqual(expect.arrayContaining(['call_answered', 'first_response']));
    expect((await identitiesOfTicket(ctx, created.ticketId)).identities).toEqual(['phone:+48221234567']);
  });

  it('opens a callback ticket for a missed call and files the voicemail of the same call on it', async () => {
    const callId = `pbx-${Date.now()}`;
    const missed = onlyTicket(webhookResult(await postPhoneEvent(ctx, phoneEvent({ callId, event: 'missed', from: '+48601234567' })), { created: 1 }));
    expect(await ticket(missed.ticketId)).toMatchObject({ status: 'new', firstResponseAt: null, subject: 'Missed call from +48601234567', language: null });
    manualClock(ctx).advance(MINUTE);
    const voicemail = phoneEvent({ callId, event: 'voicemail', from: '+48601234567', transcript: 'Proszę o telefon w sprawie reklamacji 55107.', recordingUrl: 'https://pbx.example.pl/rec/55107.mp3', durationSec: 21 });
    expect(onlyTicket(webhookResult(await postPhoneEvent(ctx, voicemail), { created: 1 }))).toEqual({ ...missed, newTicket: false });

    const messages = (await client(ctx).get(`/v1/tickets/${missed.ticketId}/messages`)).json<{ items: { kind: string; body: string; language: string | null; attachments: { url?: string; contentType: string }[] }[] }>().items;
    expect(messages.map((m) => m.kind)).toEqual(['call', 'voicemail']);
    expect(messages[1]).toMatchObject({ body: 'Proszę o telefon w sprawie reklamacji 55107.', language: 'pl' });
    expect((await ticket(missed.ticketId)).language).toBe('pl');
    expect(messages[1]!.attachments).toEqual([expect.objectContaining({ url: 'https://pbx.example.pl/rec/55107.mp3', contentType: 'audio/mpeg' })]);
    expect(await eventTypes(ctx, missed.ticketId)).toEqual(expect.arrayContaining(['call_missed', 'voicemail', 'customer_message']));
  });

  it('reads "ended" by its duration: talk time is a completed call, 0 a missed one, none is skipped', async () => {
    const talked = phoneEvent({ event: 'ended', durationSec: 40, from: '+48501000001' });
    const zero = phoneEvent({ event: 'ended', durationSec: 0, from: '+48501000002' });
    const unknown = phoneEvent({ event: 'ended', from: '+48501000003' });
    webhookResult(await postPhoneEvent(ctx, talked), { created: 1 });
    expect((await messagesWithProviderId(ctx, 'phone', `pbx:${talked.callId}:ended`))[0]).toMatchObject({ kind: 'call' });
    webhookResult(await postPhoneEvent(ctx, zero), { created: 1 });
    expect((await eventTypes(ctx, (await messagesWithProviderId(ctx, 'phone', `pbx:${zero.callId}:ended`))[0]!.ticket_id))).toContain('call_missed');
    expect(webhookResult(await postPhoneEvent(ctx, unknown), { received: 0 }).skipped).toEqual([{ reason: 'ended_without_duration', ref: `pbx:${unknown.callId}:ended` }]);
  });

  it('answers 2xx with a skipped reason for ringing and for our own unanswered outbound calls', async () => {
    const ringing = phoneEvent({ event: 'ringing' });
    expect(webhookResult(await postPhoneEvent(ctx, ringing), { received: 0, created: 0 }).skipped).toEqual([{ reason: 'call_ringing', ref: `pbx:${ringing.callId}:ringing` }]);
    const outbound = phoneEvent({ event: 'missed', direction: 'out' });
    expect(webhookResult(await postPhoneEvent(ctx, outbound), { received: 0 }).skipped[0]!.reason).toBe('outbound_unanswered');
  });

  it('creates one message for a repeated event', async () => {
    const event = phoneEvent({ event: 'answered', from: '+48501000009', durationSec: 12 });
    webhookResult(await postPhoneEvent(ctx, event), { created: 1 });
    webhookResult(await postPhoneEvent(ctx, event), { created: 0, duplicates: 1, duplicatePayload: true });
    expect(await messagesWithProviderId(ctx, 'phone', `pbx:${event.callId}:answered`)).toHaveLength(1);
  });
});

describe('malformed events', () => {
  it('answers 400 naming the field, and dead-letters the body', async () => {
    const cases: [unknown, string][] = [
      [{ ...phoneEvent(), event: 'exploded' }, 'event'],
      [{ event: 'answered', from: '+48221234567', to: '+48225550100' }, 'callId'],
      [{ ...phoneEvent(), durationSec: -1 }, 'durationSec'],
      [{ ...phoneEvent(), recordingUrl: 'ftp://pbx/rec.wav' }, 'recordingUrl'],
      [{ ...phoneEvent(), at: 'yesterday' }, 'at'],
    ];
    for (const [body, field] of cases) {
      expectProblem(await postPhoneEvent(ctx, body), 400, { code: 'invalid-payload', field });
      const letters = await query<{ body: Buffer }>(ctx, "select body from dead_letters where channel = 'phone' and field = $1", [field]);
      expect(letters.map((l) => JSON.parse(l.body.toString()))).toEqual([body]);
    }
  });
});
