import { signedWith, type AdapterDefinition } from '../channel.adapter.js';
import { formBody, formFieldsOrNone } from '../request-body.js';
import { mailgunContentDigest, parseMailgunForm, verifyMailgunSignature } from './mailgun.js';

/**
 * Mailgun Routes forward() (POST /webhooks/email/mailgun): form fields, multipart when the mail
 * has attachments. The signature covers timestamp + token only, so the token is also claimed
 * against the content (webhook_tokens) to refuse a captured signature on a forged body.
 * Replies leave by SMTP (the raw e-mail adapter's sender).
 */
export const mailgunAdapter: AdapterDefinition = (config) => ({
  channel: 'email',
  ...signedWith(
    config,
    'MAILGUN_SIGNING_KEY',
    async (request, signingKey) => {
      const fields = await formFieldsOrNone(request);
      return verifyMailgunSignature(
        { timestamp: fields.timestamp ?? '', token: fields.token ?? '', signature: fields.signature ?? '' },
        signingKey,
        request.receivedAt,
        config.MAILGUN_SIGNATURE_MAX_AGE_SEC,
      );
    },
    async (request) => {
      const { fields, files } = await formBody(request);
      return {
        token: fields.token ?? '',
        contentDigest: mailgunContentDigest(fields, files),
        expiresAt: new Date((Number(fields.timestamp) + config.MAILGUN_SIGNATURE_MAX_AGE_SEC) * 1000),
      };
    },
  ),
  body: { limitBytes: config.EMAIL_BODY_LIMIT_BYTES, contentTypes: ['application/x-www-form-urlencoded', 'multipart/form-data'] },
  parse: async (request) => {
    const { fields, files } = await formBody(request);
    return { messages: [await parseMailgunForm(fields, files, { receivedAt: request.receivedAt })], skipped: [] };
  },
  answer: { kind: 'webhook-result' },
});
