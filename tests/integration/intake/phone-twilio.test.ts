import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, eventTypes, expectProblem, manualClock, MINUTE, type TicketJson } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import {
  CHANNEL_ENV,
  count,
  identitiesOfTicket,
  messagesWithProviderId,
  postTwilio,
  query,
  twilioCall,
  twilioSignature,
} from '../../helpers/webhooks.js';

/**
 * POST /webhooks/phone/twilio: Twilio Voice form callbacks, signed with X-Twilio-Signature over
 * PUBLIC_BASE_URL + path and the sorted parameters (channels.md §4.1). Twilio wants TwiML back.
 */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...CHANNEL_ENV } });
});
afterAll(async () => ctx?.close());

const TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
const TIMESTAMP = 'Mon, 05 Jan 2026 08:15:00 +0000';
let nextNumber = 1_234_500;
const caller = () => `+97250${++nextNumber}`;

async function twiml(params: Record<string, string>, o: Parameters<typeof postTwilio>[2] = {}) {
  const res = await postTwilio(ctx, params, o);
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/xml/);
  expect(res.body).toBe(TWIML);
  return res;
}

async function ticketOfCall(providerMessageId: string): Promise<TicketJson> {
  const [message] = await messagesWithProviderId(ctx, 'phone', providerMessageId);
  expect(message, providerMessageId).toBeDefined();
  return (await client(ctx).get(`/v1/tickets/${message!.ticket_id}`)).json<TicketJson>();
}

describe('X-Twilio-Signature', () => {
  it('is computed as twilio-node does (its own test vector)', () => {
    const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
    expect(twilioSignature('https://mycompany.com/myapp.php?foo=1&bar=2', params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  });

  it('accepts PUBLIC_BASE_URL + path + query, with or without the default port, and no API key', async () => {
    await twiml(twilioCall({ CallStatus: 'ringing' }));
    await twiml(twilioCall({ CallStatus: 'ringing' }), { query: '?leg=parent&attempt=2' });
    await twiml(twilioCall({ CallStatus: 'ringing' }), { signedUrl: 'https://desk.example.com:443/webhooks/phone/twilio' });
  });

  it('refuses a signature over another URL, other parameters or another token, or none, with 401 problem+json', async () => {
    const params = twilioCall({ CallStatus: 'no-answer', From: caller() });
    const cases: Parameters<typeof postTwilio>[2][] = [
      { signedUrl: 'http://localhost:80/webhooks/phone/twilio' }, // the URL the server sees behind the proxy
      { signedUrl: 'https://desk.example.com/webhooks/phone/twilio?x=1' },
      { signature: twilioSignature('https://desk.example.com/webhooks/phone/twilio', { ...params, From: '+972501111111' }) },
      { signature: twilioSignature('https://desk.example.com/webhooks/phone/twilio', params, 'other-token') },
      { signature: null },
    ];
    for (const o of cases) expectProblem(await postTwilio(ctx, params, o), 401, { code: 'unauthorized' });
    expect(await count(ctx, 'customer_identities where address = $1', [params.From])).toBe(0);
  });
});

describe('calls', () => {
  it('logs a completed call as an interaction that is the first response', async () => {
    const params = twilioCall({ CallStatus: 'completed', CallDuration: '137', From: caller(), CallerName: 'Dana Cohen', Timestamp: TIMESTAMP });
    await twiml(params);
    const ticket = await ticketOfCall(`call:${params.CallSid}:completed`);
    // language stays unknown: "Call from …" is our text, not the caller's.
    expect(ticket).toMatchObject({ channel: 'phone', status: 'open', firstResponseAt: '2026-01-05T08:15:00.000Z', subject: `Call from ${params.From} (2m 17s)`, language: null });
    expect(await eventTypes(ctx, ticket.id)).toEqual(expect.arrayContaining(['created', 'call_answered', 'first_response', 'status_changed']));
    expect(await eventTypes(ctx, ticket.id)).not.toContain('customer_message');
    const [message] = (await client(ctx).get(`/v1/tickets/${ticket.id}/messages`)).json<{ items: { kind: string; channel: string; sentAt: string }[] }>().items;
    expect(message).toMatchObject({ kind: 'call', channel: 'phone', sentAt: '2026-01-05T08:15:00.000Z' });
    expect((await identitiesOfTicket(ctx, ticket.id)).identities).toEqual([`phone:${params.From}`]);
    const [customer] = await query<{ name: string; language: string | null }>(ctx, 'select name, language from customers where id = $1', [ticket.customerId]);
    expect(customer).toEqual({ name: 'Dana Cohen', language: null });
  });

  it('opens a callback ticket for a missed call, and files the voicemail recording and transcription on it', async () => {
    const from = caller();
    const call = twilioCall({ CallStatus: 'no-answer', From: from });
    await twiml(call);
    const ticket = await ticketOfCall(`call:${call.CallSid}:missed`);
    expect(ticket).toMatchObject({ channel: 'phone', status: 'new', firstResponseAt: null, subject: `Missed call from ${from}`, language: null });
    expect(await eventTypes(ctx, ticket.id)).toEqual(expect.arrayContaining(['created', 'call_missed', 'customer_message']));

    const recordingSid = `RE${'0'.repeat(24)}${call.CallSid!.slice(-8)}`;
    const recordingUrl = `https://api.twilio.com/2010-04-01/Accounts/${call.AccountSid}/Recordings/${recordingSid}`;
    manualClock(ctx).advance(MINUTE);
    await twiml({ AccountSid: call.AccountSid!, CallSid: call.CallSid!, From: from, RecordingSid: recordingSid, RecordingUrl: recordingUrl, RecordingDuration: '14', RecordingStatus: 'completed' });
    manualClock(ctx).advance(MINUTE);
    await twiml({ AccountSid: call.AccountSid!, CallSid: call.CallSid!, From: from, TranscriptionSid: `TR${recordingSid.slice(2)}`, TranscriptionText: 'Hi, please call me back about order 4471.', TranscriptionStatus: 'completed', RecordingSid: recordingSid, RecordingUrl: recordingUrl });

    const messages = (await client(ctx).get(`/v1/tickets/${ticket.id}/messages`)).json<{ items: { kind: string; body: string; language: string | null; attachments: { url?: string; contentType: string; filename: string }[] }[] }>().items;
    expect(messages.map((m) => [m.kind, m.body])).toEqual([
      ['call', `Missed call from ${from}`],
      ['voicemail', `Voicemail from ${from} (14s)`],
      ['voicemail', 'Hi, please call me back about order 4471.'],
    ]);
    // Only the transcription (the caller's words) has a language, and the ticket learns it from there.
    expect(messages.map((m) => m.language)).toEqual([null, null, 'en']);
    expect((await client(ctx).get(`/v1/tickets/${ticket.id}`)).json<TicketJson>().language).toBe('en');
    expect(messages[1]!.attachments).toEqual([expect.objectContaining({ url: recordingUrl, contentType: 'audio/wav', filename: `${recordingSid}.wav` })]);
    expect((await eventTypes(ctx, ticket.id)).filter((t) => t === 'voicemail')).toHaveLength(2);
    expect(await count(ctx, 'tickets t join customer_identities i on i.customer_id = t.customer_id where i.address = $1', [from])).toBe(1);
  });

  it('reads a <Dial> action: an agent who never picked up is a missed call', async () => {
    const params = twilioCall({ CallStatus: 'completed', DialCallStatus: 'no-answer', DialCallDuration: '0', From: caller() });
    await twiml(params);
    expect((await ticketOfCall(`call:${params.CallSid}:missed`)).status).toBe('new');
  });

  it('gives a withheld number an identity of its own per call', async () => {
    const params = twilioCall({ CallStatus: 'busy', From: 'anonymous' });
    await twiml(params);
    const ticket = await ticketOfCall(`call:${params.CallSid}:missed`);
    expect((await identitiesOfTicket(ctx, ticket.id)).identities).toEqual([`phone:anonymous:${params.CallSid}`]);
  });

  it('answers progress callbacks with TwiML and a skipped outcome, storing no message', async () => {
    const params = twilioCall({ CallStatus: 'in-progress', From: caller() });
    await twiml(params);
    const [payload] = await query<{ outcome: { skipped: { reason: string }[]; messages: unknown[] } }>(
      ctx,
      "select outcome from inbound_payloads where channel = 'phone' and convert_from(body, 'UTF8') like $1",
      [`%${params.CallSid}%`],
    );
    expect(payload!.outcome).toEqual({ messages: [], skipped: [{ reason: 'call_in-progress', ref: `call:${params.CallSid}` }] });
  });

  it('creates one message when Twilio repeats a callback', async () => {
    const params = twilioCall({ CallStatus: 'completed', CallDuration: '30', From: caller() });
    await twiml(params);
    await twiml(params);
    await twiml({ ...params, CallDuration: '30', Timestamp: TIMESTAMP }); // other bytes, same call outcome
    expect(await messagesWithProviderId(ctx, 'phone', `call:${params.CallSid}:completed`)).toHaveLength(1);
  });
});

describe('malformed callbacks', () => {
  it('answers 400 problem+json naming the field, and dead-letters the form', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ AccountSid: 'AC1', CallStatus: 'completed' }, 'CallSid'],
      [{ CallSid: 'CA-no-status', From: caller() }, 'CallStatus'],
      [{ CallSid: 'CA-rec', RecordingUrl: 'https://api.twilio.com/no-sid' }, 'RecordingSid'],
    ];
    for (const [params, field] of cases) {
      expectProblem(await postTwilio(ctx, params), 400, { code: 'invalid-payload', field });
      const [letter] = await query<{ body: Buffer; content_type: string }>(ctx, "select body, content_type from dead_letters where channel = 'phone' and field = $1", [field]);
      expect(letter!.content_type).toBe('application/x-www-form-urlencoded');
      expect(Object.fromEntries(new URLSearchParams(letter!.body.toString()))).toEqual(params);
    }
  });
});
