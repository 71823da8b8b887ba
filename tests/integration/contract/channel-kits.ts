import { readdirSync, readFileSync } from 'node:fs';
import type { AdapterPath } from '../../../src/channels/channel.registry.js';
import type { IdentityKind } from '../../../src/channels/channel.types.js';
import { unique } from '../../helpers/api.js';
import type { TestContext } from '../../helpers/context.js';
import { CHANNEL_ENV, facebookSignature, mailgunSignature, twilioSignature, twitterSignature } from '../../helpers/webhooks.js';

/**
 * One fixture kit per channel adapter: what the contract suite needs to speak the provider's
 * wire format. The suite (channel-adapters.contract.test.ts) is written once; a kit only knows
 * how to sign, a recorded valid delivery, a malformed one and what the valid one normalizes to.
 * `Record<AdapterPath, …>`: an adapter added to the registry without a kit does not compile.
 */

/** An HTTP request as the provider sends it. */
export interface WireRequest {
  body: Buffer;
  contentType: string;
  headers: Record<string, string>;
  /** Appended to /webhooks/<path>, e.g. "?account=7" (Twilio signs it). */
  query?: string;
}

export interface ExpectedMessage {
  providerMessageId: string;
  sender: { kind: IdentityKind; address: string };
  /** Part of the normalized text: decoded, whatever the wire encoding. */
  text: string;
  /** The provider's time, or 'receipt' when it sends none or one we clamp (provider-date.ts). */
  sentAt: Date | 'receipt';
}

interface KitCommon {
  /**
   * The recorded valid delivery, signed with `secret` (signature kits; api-key kits ignore it:
   * the suite adds the key). Each call may draw a fresh nonce (Mailgun's token).
   */
  valid(ctx: TestContext, secret: string): WireRequest;
  expected: ExpectedMessage;
  /** Authenticated like a genuine delivery, but unusable: answered 4xx naming `field`. */
  malformed(ctx: TestContext, secret: string): WireRequest;
  malformedField: string;
  /** The provider's GET check, for adapters that declare one. */
  handshake?: { accepted: string; expectBody: string; refused: string };
  /** More recorded deliveries (the e-mail corpus): each is taken in or dead-lettered, never a 5xx. */
  corpus?(ctx: TestContext, secret: string): { name: string; request: WireRequest }[];
}

/** How the provider proves itself; must agree with the adapter's declaration. */
export type AdapterKit = KitCommon &
  (
    | { auth: 'api-key' }
    | {
        auth: 'signature';
        /** The signing secret of CHANNEL_ENV. */
        secret: string;
        /** The same request with its signature taken out (a header, or Mailgun's form field). */
        unsign(request: WireRequest): WireRequest;
      }
  );

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url));
const json = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8');

const signedJson = (header: string, sign: (body: Buffer, secret: string) => string) => (body: Buffer, secret: string): WireRequest => ({
  body,
  contentType: 'application/json',
  headers: { [header]: sign(body, secret) },
});

const dropHeaders = (request: WireRequest): WireRequest => ({ ...request, headers: {} });

const facebook = signedJson('x-hub-signature-256', facebookSignature);
const twitter = signedJson('x-twitter-webhooks-signature', twitterSignature);

function twilio(ctx: TestContext, params: Record<string, string>, secret: string): WireRequest {
  const query = '?desk=contract';
  return {
    body: Buffer.from(new URLSearchParams(params).toString(), 'utf8'),
    contentType: 'application/x-www-form-urlencoded',
    headers: { 'x-twilio-signature': twilioSignature(`${ctx.config.PUBLIC_BASE_URL}/webhooks/phone/twilio${query}`, params, secret) },
    query,
  };
}

/** Mailgun signs a timestamp and a 50-character token, both sent as form fields. */
function mailgun(ctx: TestContext, fields: Record<string, string>, secret: string): WireRequest {
  const timestamp = String(Math.floor(ctx.clock.now().getTime() / 1000));
  const token = unique('contract').padEnd(50, '0').slice(0, 50);
  const signed = { ...fields, timestamp, token, signature: mailgunSignature(timestamp, token, secret) };
  return { body: Buffer.from(new URLSearchParams(signed).toString(), 'utf8'), contentType: 'application/x-www-form-urlencoded', headers: {} };
}

function mailgunUnsigned(request: WireRequest): WireRequest {
  const fields = new URLSearchParams(request.body.toString('utf8'));
  fields.delete('signature');
  return { ...request, body: Buffer.from(fields.toString(), 'utf8') };
}

/** Every recorded e-mail in tests/fixtures/email (copies of shared/corpus/email), by relative path. */
const emailCorpus = () =>
  ['seeded', 'mailparser', 'chatwoot'].flatMap((dir) =>
    readdirSync(new URL(`../../fixtures/email/${dir}/`, import.meta.url))
      .filter((file) => file.endsWith('.eml'))
      .sort()
      .map((file) => ({ name: `${dir}/${file}`, bytes: fixture(`email/${dir}/${file}`) })),
  );

const mailgunRecorded = JSON.parse(fixture('channels/mailgun-forward.json').toString('utf8')) as Record<string, string>;
const twilioRecorded = Object.fromEntries(new URLSearchParams(fixture('channels/twilio-status-callback.txt').toString('utf8')));

export const ADAPTER_KITS: Record<AdapterPath, AdapterKit> = {
  email: {
    auth: 'api-key',
    // ISO-8859-8 quoted-printable Hebrew, dated two months after the test clock: decoded, and clamped.
    valid: () => ({ body: fixture('email/seeded/he-iso-8859-8-qp.eml'), contentType: 'message/rfc822', headers: {} }),
    expected: { providerMessageId: '<c1f0a3e2.he1@mail.example.co.il>', sender: { kind: 'email', address: 'dana.cohen@example.co.il' }, text: 'שלום', sentAt: 'receipt' },
    malformed: () => ({ body: Buffer.from('Subject: nobody sent this\r\nMessage-ID: <nofrom@contract.example>\r\n\r\nNo From header.\r\n'), contentType: 'message/rfc822', headers: {} }),
    malformedField: 'from',
    corpus: () => emailCorpus().map(({ name, bytes }) => ({ name, request: { body: bytes, contentType: 'message/rfc822', headers: {} } })),
  },
  'email/mailgun': {
    auth: 'signature',
    secret: CHANNEL_ENV.MAILGUN_SIGNING_KEY,
    unsign: mailgunUnsigned,
    valid: (ctx, secret) => mailgun(ctx, mailgunRecorded, secret),
    expected: {
      providerMessageId: '<20260105081200.mg1@mail.example.pl>',
      sender: { kind: 'email', address: 'marek.nowak@example.pl' },
      text: 'Pralka kupiona w grudniu przecieka',
      sentAt: new Date('2026-01-05T07:12:00Z'),
    },
    malformed: (ctx, secret) => mailgun(ctx, { ...mailgunRecorded, 'message-headers': '{"not":"pairs"}' }, secret),
    malformedField: 'message-headers',
    // Mailgun's raw-MIME mode (a route URL ending in "mime"): the whole message in `body-mime`.
    corpus: (ctx, secret) =>
      emailCorpus().map(({ name, bytes }) => ({ name, request: mailgun(ctx, { recipient: mailgunRecorded.recipient!, 'body-mime': bytes.toString('utf8') }, secret) })),
  },
  facebook: {
    auth: 'signature',
    secret: CHANNEL_ENV.FACEBOOK_APP_SECRET,
    unsign: dropHeaders,
    valid: (_ctx, secret) => facebook(fixture('channels/facebook-messenger-text.json'), secret),
    expected: {
      providerMessageId: 'm_Qw3rTy-EXAMPLE',
      sender: { kind: 'facebook', address: '105320418834911:7066489083426785' },
      text: 'my order #4471 arrived damaged',
      sentAt: new Date(1718030450987),
    },
    malformed: (_ctx, secret) => facebook(json({ object: 'page', entry: [{ id: '105320418834911', time: 1, messaging: [{ recipient: { id: '105320418834911' }, timestamp: 1, message: { mid: 'm_nosender', text: 'x' } }] }] }), secret),
    malformedField: 'entry[0].messaging[0].sender.id',
    handshake: {
      accepted: 'hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vt',
      expectBody: '1158201444',
      refused: 'hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=not-ours',
    },
  },
  twitter: {
    auth: 'signature',
    secret: CHANNEL_ENV.TWITTER_CONSUMER_SECRET,
    unsign: dropHeaders,
    valid: (_ctx, secret) => twitter(fixture('channels/twitter-mention.json'), secret),
    expected: {
      providerMessageId: 'tweet:2008211004457226741',
      sender: { kind: 'twitter', address: '1876543210987654321' },
      text: 'my router has been down since Friday',
      sentAt: new Date(1767546760000),
    },
    malformed: (_ctx, secret) => twitter(Buffer.from('{"for_user_id":"2975699229","tweet_create_events":[', 'utf8'), secret),
    malformedField: 'body',
    handshake: {
      // A token X really sent (channels.md §2.1's challenge123 is shorter than the 16 characters the route takes).
      accepted: 'crc_token=M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0',
      expectBody: JSON.stringify({ response_token: 'sha256=eoMavcfkBw1taFDN2uI4Jx8BfNGqoYUIPafsvsxtOrI=' }),
      // Not token-shaped: signing it would hand out the signature of a JSON body.
      refused: `crc_token=${encodeURIComponent('{"for_user_id":"1"}')}`,
    },
  },
  'phone/twilio': {
    auth: 'signature',
    secret: CHANNEL_ENV.TWILIO_AUTH_TOKEN,
    unsign: dropHeaders,
    valid: (ctx, secret) => twilio(ctx, twilioRecorded, secret),
    expected: { providerMessageId: 'call:CA0000000000000000000000000000abcd:completed', sender: { kind: 'phone', address: '+48221234567' }, text: '(2m 17s)', sentAt: 'receipt' },
    malformed: (ctx, secret) => twilio(ctx, { AccountSid: 'AC00000000000000000000000000000001', CallStatus: 'completed', From: '+48221234567' }, secret),
    malformedField: 'CallSid',
  },
  'phone/events': {
    auth: 'api-key',
    valid: () => ({ body: fixture('channels/phone-event-voicemail.json'), contentType: 'application/json', headers: {} }),
    expected: { providerMessageId: 'pbx:pbx-55107:voicemail', sender: { kind: 'phone', address: '+48221234567' }, text: 'pralka znowu cieknie', sentAt: new Date('2026-01-05T07:41:00Z') },
    malformed: () => ({ body: json({ event: 'answered', from: '+48221234567', to: '+48225550100' }), contentType: 'application/json', headers: {} }),
    malformedField: 'callId',
  },
};
