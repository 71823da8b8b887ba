import type { Config } from '../config.js';
import { headerValue, type InboundAdapter, type InboundRequest } from './channel.adapter.js';
import { InvalidPayloadError } from './channel.errors.js';
import { parseEmail } from './email/email.parser.js';
import { mailgunContentDigest, parseMailgunForm, verifyMailgunSignature, type MailgunAttachment } from './email/mailgun.js';
import { parseFacebookWebhook } from './facebook/facebook.parser.js';
import { verifyFacebookSignature } from './facebook/facebook.signature.js';
import { parsePhoneEvent } from './phone/phone-event.parser.js';
import { parseTwilioVoice } from './phone/twilio.parser.js';
import { verifyTwilioSignature } from './phone/twilio.signature.js';
import { parseTwitterWebhook } from './twitter/twitter.parser.js';
import { verifyTwitterSignature } from './twitter/twitter.signature.js';

function parseJson(request: InboundRequest): unknown {
  try {
    return JSON.parse(request.rawBody.toString('utf8'));
  } catch (error) {
    throw new InvalidPayloadError('body', `is not valid JSON: ${(error as Error).message}`);
  }
}

interface FormData {
  fields: Record<string, string>;
  files: MailgunAttachment[];
}

/** Form bodies (urlencoded or multipart) through the platform's own parser (undici). */
async function parseForm(request: InboundRequest): Promise<FormData> {
  let form: globalThis.FormData;
  try {
    form = await new Response(new Uint8Array(request.rawBody), { headers: { 'content-type': request.contentType ?? '' } }).formData();
  } catch (error) {
    throw new InvalidPayloadError('body', `is not a form body: ${(error as Error).message}`);
  }
  const fields: Record<string, string> = {};
  const files: MailgunAttachment[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') fields[name] = value;
    else files.push({ filename: value.name || null, contentType: value.type || 'application/octet-stream', content: Buffer.from(await value.arrayBuffer()) });
  }
  return { fields, files };
}

// Form parsing is needed by both verify (Mailgun signs fields) and parse: do it once.
const formCache = new WeakMap<InboundRequest, Promise<FormData>>();
const formOf = (request: InboundRequest) => {
  let form = formCache.get(request);
  if (!form) {
    form = parseForm(request);
    formCache.set(request, form);
  }
  return form;
};

export function createInboundAdapters(config: Config): InboundAdapter[] {
  const region = config.DEFAULT_PHONE_REGION;
  return [
    {
      channel: 'email',
      path: 'email',
      requiredSetting: null,
      configured: true,
      // Raw MIME from an MTA pipe or relay is authenticated by an integration API key.
      verify: async () => true,
      parse: async (request) => ({ messages: [await parseEmail(request.rawBody, { receivedAt: request.receivedAt })], skipped: [] }),
    },
    {
      channel: 'email',
      path: 'email/mailgun',
      requiredSetting: 'MAILGUN_SIGNING_KEY',
      configured: config.MAILGUN_SIGNING_KEY !== undefined,
      verify: async (request) => {
        const { fields } = await formOf(request).catch(() => ({ fields: {} as Record<string, string> }));
        return verifyMailgunSignature(
          { timestamp: fields.timestamp ?? '', token: fields.token ?? '', signature: fields.signature ?? '' },
          config.MAILGUN_SIGNING_KEY ?? '',
          request.receivedAt,
          config.MAILGUN_SIGNATURE_MAX_AGE_SEC,
        );
      },
      deliveryToken: async (request) => {
        const { fields, files } = await formOf(request);
        return {
          token: fields.token ?? '',
          contentDigest: mailgunContentDigest(fields, files),
          expiresAt: new Date((Number(fields.timestamp) + config.MAILGUN_SIGNATURE_MAX_AGE_SEC) * 1000),
        };
      },
      parse: async (request) => {
        const { fields, files } = await formOf(request);
        return { messages: [await parseMailgunForm(fields, files, { receivedAt: request.receivedAt })], skipped: [] };
      },
    },
    {
      channel: 'facebook',
      path: 'facebook',
      requiredSetting: 'FACEBOOK_APP_SECRET',
      configured: config.FACEBOOK_APP_SECRET !== undefined,
      verify: async (request) => verifyFacebookSignature(request.rawBody, headerValue(request, 'x-hub-signature-256'), config.FACEBOOK_APP_SECRET ?? ''),
      parse: async (request) =>
        parseFacebookWebhook(parseJson(request), { appId: config.FACEBOOK_APP_ID, receivedAt: request.receivedAt, defaultRegion: region }),
    },
    {
      channel: 'twitter',
      path: 'twitter',
      requiredSetting: 'TWITTER_CONSUMER_SECRET',
      configured: config.TWITTER_CONSUMER_SECRET !== undefined,
      verify: async (request) => verifyTwitterSignature(request.rawBody, headerValue(request, 'x-twitter-webhooks-signature'), config.TWITTER_CONSUMER_SECRET ?? ''),
      parse: async (request) => parseTwitterWebhook(parseJson(request), { receivedAt: request.receivedAt, defaultRegion: region }),
    },
    {
      channel: 'phone',
      path: 'phone/twilio',
      requiredSetting: 'TWILIO_AUTH_TOKEN',
      configured: config.TWILIO_AUTH_TOKEN !== undefined,
      verify: async (request) => {
        const { fields } = await formOf(request).catch(() => ({ fields: {} as Record<string, string> }));
        return verifyTwilioSignature(request.publicUrl, fields, headerValue(request, 'x-twilio-signature'), config.TWILIO_AUTH_TOKEN ?? '');
      },
      parse: async (request) => parseTwilioVoice((await formOf(request)).fields, { receivedAt: request.receivedAt, defaultRegion: region }),
    },
    {
      channel: 'phone',
      path: 'phone/events',
      requiredSetting: null,
      configured: true,
      // Any PBX or CTI posts JSON events authenticated by an integration API key.
      verify: async () => true,
      parse: async (request) => parsePhoneEvent(parseJson(request), { receivedAt: request.receivedAt, defaultRegion: region }),
    },
  ];
}
