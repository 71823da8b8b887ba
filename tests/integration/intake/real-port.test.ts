import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unique } from '../../helpers/api.js';
import { createTestContext, type TestContext } from '../../helpers/context.js';
import {
  CHANNEL_ENV,
  count,
  facebookPayload,
  facebookSignature,
  integrationToken,
  mailgunFields,
  messagesWithProviderId,
  messengerEvent,
  query,
  rawEmail,
  twilioCall,
  twilioSignature,
  type WebhookResultJson,
} from '../../helpers/webhooks.js';

/**
 * The webhooks on a real TCP port, spoken to with fetch: real multipart encoding, real
 * Content-Length and body-limit handling, the Host header Twilio signs, concurrent sockets.
 * PUBLIC_BASE_URL is left unset, so the URL Twilio signed is the one this server sees.
 */
const { PUBLIC_BASE_URL: _unset, ...env } = CHANNEL_ENV;
let ctx: TestContext;
let base: string;
beforeAll(async () => {
  ctx = await createTestContext({ env: { ...env, BODY_LIMIT_BYTES: '65536' } });
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => ctx?.close());

const facebook = (body: string) =>
  fetch(`${base}/webhooks/facebook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-hub-signature-256': facebookSignature(body) }, body });

describe('webhooks over a real port', () => {
  it('answers the Facebook handshake and takes a signed Messenger delivery', async () => {
    const handshake = await fetch(`${base}/webhooks/facebook?hub.mode=subscribe&hub.challenge=424242&hub.verify_token=vt`);
    expect(handshake.status).toBe(200);
    expect(await handshake.text()).toBe('424242');

    const res = await facebook(JSON.stringify(facebookPayload(messengerEvent({ psid: '7066489083700001', text: 'שלום, over the wire' }))));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ received: 1, created: 1, tickets: [{ newTicket: true }] });
  });

  it('verifies Twilio against the URL the request arrived on, and answers TwiML', async () => {
    const params = twilioCall({ CallStatus: 'no-answer', From: '+972501112233' });
    const post = (signature: string) =>
      fetch(`${base}/webhooks/phone/twilio?tenant=il`, { method: 'POST', headers: { 'x-twilio-signature': signature }, body: new URLSearchParams(params) });
    expect((await post(twilioSignature(`https://desk.example.com/webhooks/phone/twilio?tenant=il`, params))).status).toBe(401);
    const res = await post(twilioSignature(`${base}/webhooks/phone/twilio?tenant=il`, params));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toBe('<?xml version="1.0" encoding="UTF-8"?><Response/>');
    expect(await messagesWithProviderId(ctx, 'phone', `call:${params.CallSid}:missed`)).toHaveLength(1);
  });

  it('takes raw RFC 822 with an integration key', async () => {
    const messageId = `<${unique('wire')}@example.com>`;
    const res = await fetch(`${base}/webhooks/email`, {
      method: 'POST',
      headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${await integrationToken(ctx)}` },
      body: rawEmail({ from: 'wire@example.com', messageId, subject: 'Zażółć gęślą jaźń' }),
    });
    expect(res.status).toBe(200);
    expect(await messagesWithProviderId(ctx, 'email', messageId)).toHaveLength(1);
  });

  it('keeps the bytes of a Mailgun multipart upload encoded by fetch itself', async () => {
    const pdf = readFileSync(new URL('../../fixtures/email/mailparser/base64encodedroot.eml', import.meta.url));
    const form = new FormData();
    const messageId = `<${unique('mp')}@example.com>`;
    for (const [key, value] of Object.entries(
      mailgunFields(ctx, { from: 'Upload <upload@example.com>', sender: 'upload@example.com', subject: 'Invoice', 'body-plain': 'See attached.', 'message-headers': JSON.stringify([['Message-Id', messageId]]) }),
    )) {
      form.append(key, value);
    }
    form.append('attachment-1', new Blob([new Uint8Array(pdf)], { type: 'application/pdf' }), 'faktura.pdf');
    const res = await fetch(`${base}/webhooks/email/mailgun`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const [message] = await messagesWithProviderId(ctx, 'email', messageId);
    const [attachment] = await query<{ filename: string; content: Buffer }>(ctx, 'select filename, content from attachments where message_id = $1', [message!.id]);
    expect(attachment!.filename).toBe('faktura.pdf');
    expect(attachment!.content.equals(pdf)).toBe(true);
  });

  it('answers 413 problem+json to an oversized body on the wire', async () => {
    const res = await facebook(JSON.stringify(facebookPayload(messengerEvent({ psid: '7066489083700002', text: 'z'.repeat(80_000) }))));
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 413, code: 'payload-too-large' });
  });

  it('creates one message from six concurrent deliveries on six sockets', async () => {
    const mid = unique('m_wire');
    const body = JSON.stringify(facebookPayload(messengerEvent({ psid: '7066489083700003', mid, text: 'Concurrent over TCP' })));
    const responses = await Promise.all(Array.from({ length: 6 }, () => facebook(body)));
    const results = await Promise.all(responses.map(async (r) => (expect(r.status).toBe(200), (await r.json()) as WebhookResultJson)));
    expect(results.reduce((n, r) => n + r.created, 0)).toBe(1);
    expect(await messagesWithProviderId(ctx, 'facebook', mid)).toHaveLength(1);
    expect(await count(ctx, "inbound_payloads where channel = 'facebook' and body = $1", [Buffer.from(body)])).toBe(1);
  });
});
