import { createHmac, randomBytes } from 'node:crypto';
import type { Channel } from '../../src/channels/channel.types.js';

/**
 * Signed webhook deliveries of the four channels, each with provider ids and a sender unique
 * to (run, sequence number): every request stores exactly one new message, so the rows
 * counted at the end must equal the 2xx answers. Payload shapes follow
 * /work/shared/channels.md (1.3a Messenger text message, 2.3 X direct message, 4.1 Twilio
 * voice status callback) and a plain-text RFC 822 e-mail.
 */
export const BENCH_SECRETS = {
  FACEBOOK_APP_SECRET: 'bench_facebook_app_secret',
  TWITTER_CONSUMER_SECRET: 'bench_twitter_consumer_secret',
  TWILIO_AUTH_TOKEN: 'bench_twilio_auth_token',
  // Twilio signs the public URL it called, never the one the service listens on.
  PUBLIC_BASE_URL: 'https://desk.bench.invalid',
} as const;

export const WEBHOOK_PATHS: Record<Channel, string> = {
  facebook: '/webhooks/facebook',
  twitter: '/webhooks/twitter',
  phone: '/webhooks/phone/twilio',
  email: '/webhooks/email',
};

export interface WebhookRequest {
  channel: Channel;
  method: 'POST';
  path: string;
  headers: Record<string, string>;
  body: string;
}

const PAGE_ID = '105320418834911';
const X_ACCOUNT_ID = '2975699229';

const TEXTS = [
  'Hi, my order #{n} arrived damaged and nobody answers the phone',
  'ההזמנה שלי {n} הגיעה שבורה ואני מחכה להחזר כספי כבר שבועיים',
  'Dzień dobry, zamówienie {n} nie dotarło, proszę o zwrot pieniędzy',
  'I was charged twice for invoice {n}, please refund the duplicate payment',
  'Die Lieferung {n} ist beschädigt angekommen, bitte um Rückruf',
];

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

export function createWebhookFactory(options: { emailApiKey: string }) {
  // Distinguishes this run's ids from any other run's, should two ever share a database.
  const run = randomBytes(4).toString('hex');
  const runDigits = String(parseInt(run, 16) % 10_000).padStart(4, '0');
  // Graph and X ids are decimal strings: a leading digit per kind, the run, the sequence number.
  const numericId = (lead: number, seq: number) => `${lead}${runDigits}${String(seq).padStart(12, '0')}`;
  const text = (seq: number) => TEXTS[seq % TEXTS.length]!.replace('{n}', String(100_000 + seq));

  const builders: Record<Channel, (seq: number) => WebhookRequest> = {
    facebook(seq) {
      const now = Date.now();
      const body = JSON.stringify({
        object: 'page',
        entry: [
          {
            id: PAGE_ID,
            time: now,
            messaging: [
              {
                sender: { id: numericId(7, seq) },
                recipient: { id: PAGE_ID },
                timestamp: now,
                message: { mid: `m_bench-${run}-${seq}`, text: text(seq) },
              },
            ],
          },
        ],
      });
      const signature = createHmac('sha256', BENCH_SECRETS.FACEBOOK_APP_SECRET).update(body).digest('hex');
      return { channel: 'facebook', method: 'POST', path: WEBHOOK_PATHS.facebook, headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${signature}` }, body };
    },

    twitter(seq) {
      const sender = numericId(8, seq);
      const body = JSON.stringify({
        for_user_id: X_ACCOUNT_ID,
        direct_message_events: [
          {
            type: 'message_create',
            id: numericId(9, seq),
            created_timestamp: String(Date.now()),
            message_create: {
              target: { recipient_id: X_ACCOUNT_ID },
              sender_id: sender,
              source_app_id: '268278',
              message_data: { text: text(seq), entities: { hashtags: [], symbols: [], user_mentions: [], urls: [] } },
            },
          },
        ],
        apps: { '268278': { id: '268278', name: 'Twitter Web Client', url: 'http://twitter.com' } },
        users: {
          [sender]: { id: sender, name: `Bench Customer ${seq}`, screen_name: `bench_${run}_${seq}` },
          [X_ACCOUNT_ID]: { id: X_ACCOUNT_ID, name: 'Complaint Desk', screen_name: 'complaintdesk' },
        },
      });
      const signature = createHmac('sha256', BENCH_SECRETS.TWITTER_CONSUMER_SECRET).update(body).digest('base64');
      return { channel: 'twitter', method: 'POST', path: WEBHOOK_PATHS.twitter, headers: { 'content-type': 'application/json', 'x-twitter-webhooks-signature': `sha256=${signature}` }, body };
    },

    phone(seq) {
      // Seven in ten calls answered, the rest missed (a callback request); each one call.
      const answered = seq % 10 < 7;
      const params: Record<string, string> = {
        AccountSid: `AC${'0'.repeat(31)}1`,
        ApiVersion: '2010-04-01',
        CallSid: `CA${run}${hex(seq, 24)}`,
        CallStatus: answered ? 'completed' : 'no-answer',
        CallDuration: answered ? String(30 + (seq % 300)) : '0',
        Direction: 'inbound',
        From: `+97250${String(seq % 10_000_000).padStart(7, '0')}`,
        To: '+97235550100',
      };
      const signed = BENCH_SECRETS.PUBLIC_BASE_URL + WEBHOOK_PATHS.phone + Object.keys(params).sort().map((key) => key + params[key]).join('');
      const signature = createHmac('sha1', BENCH_SECRETS.TWILIO_AUTH_TOKEN).update(signed, 'utf8').digest('base64');
      return {
        channel: 'phone',
        method: 'POST',
        path: WEBHOOK_PATHS.phone,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
        body: new URLSearchParams(params).toString(),
      };
    },

    email(seq) {
      const body = [
        `From: Bench Customer ${seq} <customer-${run}-${seq}@bench.example>`,
        'To: support@desk.bench.invalid',
        `Subject: Complaint about order ${100_000 + seq}`,
        `Message-ID: <bench-${run}-${seq}@bench.example>`,
        `Date: ${new Date().toUTCString()}`,
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        'Content-Transfer-Encoding: 8bit',
        '',
        text(seq),
        '',
        'Regards,',
        `Customer ${seq}`,
        '',
      ].join('\r\n');
      return { channel: 'email', method: 'POST', path: WEBHOOK_PATHS.email, headers: { 'content-type': 'message/rfc822', authorization: `Bearer ${options.emailApiKey}` }, body };
    },
  };
  return builders;
}
