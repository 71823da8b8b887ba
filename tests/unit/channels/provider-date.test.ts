import { describe, expect, it } from 'vitest';
import { parseEmail } from '../../../src/channels/email/email.parser.js';
import { parseMailgunForm } from '../../../src/channels/email/mailgun.js';
import { parseFacebookWebhook } from '../../../src/channels/facebook/facebook.parser.js';
import { parsePhoneEvent } from '../../../src/channels/phone/phone-event.parser.js';
import { parseTwilioVoice } from '../../../src/channels/phone/twilio.parser.js';
import { MAX_FUTURE_SKEW_MS, plausibleDate } from '../../../src/channels/provider-date.js';
import { parseTwitterWebhook } from '../../../src/channels/twitter/twitter.parser.js';

/**
 * Defect 8: a provider timestamp out of Postgres' range (an e-mail dated year 99999) failed the
 * intake transaction with a 500 on every retry. Every parser that reads a provider timestamp
 * now hands out a plausible date, or the receipt time.
 */
const receivedAt = new Date('2026-01-05T09:00:00Z');

describe('plausibleDate', () => {
  it('keeps ordinary dates, including a little clock skew ahead', () => {
    expect(plausibleDate(new Date('1999-12-31T23:59:59Z'), receivedAt)).toEqual(new Date('1999-12-31T23:59:59Z'));
    const ahead = new Date(receivedAt.getTime() + MAX_FUTURE_SKEW_MS);
    expect(plausibleDate(ahead, receivedAt)).toEqual(ahead);
  });

  it.each([
    ['year 99999', new Date('+099999-01-01T00:00:00Z')],
    ['the largest JS date', new Date(8.64e15)],
    ['an invalid date', new Date(Number.NaN)],
    ['before 1970', new Date('1969-12-31T23:59:59Z')],
    ['a year from now', new Date(receivedAt.getTime() + 366 * 86_400_000)],
  ])('replaces %s by the receipt time', (_name, date) => {
    expect(plausibleDate(date, receivedAt)).toEqual(receivedAt);
  });
});

const mail = (date: string) => Buffer.from(`From: a@example.com\r\nSubject: s\r\nDate: ${date}\r\nMessage-ID: <d@example.com>\r\n\r\nbody\r\n`);

describe('every parser that reads a provider timestamp', () => {
  it.each(['Mon, 1 Jan 99999 00:00:00 +0000', 'Fri, 13 Dec 275760 00:00:00 +0000', 'Mon, 01 Jan 1900 00:00:00 +0000'])('e-mail Date: %s', async (date) => {
    expect((await parseEmail(mail(date), { receivedAt })).sentAt).toEqual(receivedAt);
  });

  it('Mailgun message-headers Date', async () => {
    const fields = { from: 'a@example.com', sender: 'a@example.com', 'body-plain': 'x', 'message-headers': JSON.stringify([['Date', 'Mon, 1 Jan 99999 00:00:00 +0000']]) };
    expect((await parseMailgunForm(fields, [], { receivedAt })).sentAt).toEqual(receivedAt);
  });

  it.each([8e15, 1e16, 9_999_999_999_999])('Facebook messaging timestamp %d', (timestamp) => {
    const body = { object: 'page', entry: [{ id: '1', time: 1, messaging: [{ sender: { id: '2' }, recipient: { id: '1' }, timestamp, message: { mid: 'm_1', text: 'hi' } }] }] };
    expect(parseFacebookWebhook(body, { receivedAt }).messages[0]?.sentAt).toEqual(receivedAt);
  });

  it('Facebook feed created_time', () => {
    const body = { object: 'page', entry: [{ id: '1', time: 1, changes: [{ field: 'feed', value: { from: { id: '9' }, post_id: '1_2', comment_id: '2_3', parent_id: '1_2', created_time: 99_999_999_999_999, item: 'comment', verb: 'add', message: 'x' } }] }] };
    expect(parseFacebookWebhook(body, { receivedAt }).messages[0]?.sentAt).toEqual(receivedAt);
  });

  it.each(['99999999999999999999', '8640000000000001'])('X DM created_timestamp and tweet timestamp_ms %s', (ms) => {
    const body = {
      for_user_id: '1',
      direct_message_events: [{ type: 'message_create', id: '5', created_timestamp: ms, message_create: { sender_id: '2', message_data: { text: 'hi' } } }],
      tweet_create_events: [{ id_str: '6', text: '@us hi', user: { id_str: '3' }, timestamp_ms: ms }],
    };
    const { messages } = parseTwitterWebhook(body, { receivedAt });
    expect(messages.map((m) => m.sentAt)).toEqual([receivedAt, receivedAt]);
  });

  it('Twilio Timestamp', () => {
    const params = { AccountSid: 'AC1', CallSid: 'CA1', CallStatus: 'completed', CallDuration: '5', Direction: 'inbound', From: '+48221234567', To: '+48225550100', Timestamp: 'Mon, 01 Jan 99999 00:00:00 +0000' };
    expect(parseTwilioVoice(params, { receivedAt, defaultRegion: 'PL' }).messages[0]?.sentAt).toEqual(receivedAt);
  });

  it('PBX event at', () => {
    const event = { callId: 'c1', event: 'answered', from: '+48221234567', to: '+48225550100', at: '9999-12-31T23:59:59Z' };
    expect(parsePhoneEvent(event, { receivedAt, defaultRegion: 'PL' }).messages[0]?.sentAt).toEqual(receivedAt);
  });
});
