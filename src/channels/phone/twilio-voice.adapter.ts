import { headerValue, signedWith, type AdapterDefinition } from '../channel.adapter.js';
import { formBody, formFieldsOrNone } from '../request-body.js';
import { parseTwilioVoice } from './twilio.parser.js';
import { verifyTwilioSignature } from './twilio.signature.js';

/** An empty TwiML document: "nothing more to do on this call". Twilio reads TwiML, not JSON. */
export const TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

/**
 * Twilio Voice status, recording and transcription callbacks (POST /webhooks/phone/twilio):
 * form fields signed with the auth token over the public URL Twilio called.
 */
export const twilioVoiceAdapter: AdapterDefinition = (config) => ({
  channel: 'phone',
  ...signedWith(config, 'TWILIO_AUTH_TOKEN', async (request, secret) =>
    verifyTwilioSignature(request.publicUrl, await formFieldsOrNone(request), headerValue(request, 'x-twilio-signature'), secret),
  ),
  body: { limitBytes: config.BODY_LIMIT_BYTES, contentTypes: ['application/x-www-form-urlencoded'] },
  parse: async (request) => parseTwilioVoice((await formBody(request)).fields, { receivedAt: request.receivedAt, defaultRegion: config.DEFAULT_PHONE_REGION }),
  answer: { kind: 'fixed', contentType: 'text/xml', body: TWIML_EMPTY },
});
