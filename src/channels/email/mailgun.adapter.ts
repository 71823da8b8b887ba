import { signedWith, type AdapterDefinition, type InboundRequest } from '../channel.adapter.js';
import { formBody, namedFormFields } from '../request-body.js';
import { mailgunContentDigest, parseMailgunForm, verifyMailgunSignature, type MailgunSignatureFields } from './mailgun.js';

// The signature block, read before the rest of the form: verified first, and the very values
// the token claim uses (a second `token` field further down the form was never verified).
const signatureBlocks = new WeakMap<InboundRequest, Promise<MailgunSignatureFields>>();

function signatureBlock(request: InboundRequest): Promise<MailgunSignatureFields> {
  let block = signatureBlocks.get(request);
  if (!block) {
    block = namedFormFields(request, ['timestamp', 'token', 'signature']).then((f) => ({ timestamp: f.timestamp ?? '', token: f.token ?? '', signature: f.signature ?? '' }));
    signatureBlocks.set(request, block);
  }
  return block;
}

/**
 * Mailgun Routes forward() (POST /webhooks/email/mailgun): form fields, multipart when the mail
 * has attachments. The signature covers timestamp + token only, so the token is also claimed
 * against the content (webhook_tokens) to refuse a captured signature on a forged body.
 * The signature is checked on its three fields alone: the form (up to 25 MB of attachments) is
 * parsed only once it verified. Replies leave by SMTP (the raw e-mail adapter's sender).
 */
export const mailgunAdapter: AdapterDefinition = (config) => ({
  channel: 'email',
  ...signedWith(
    config,
    'MAILGUN_SIGNING_KEY',
    async (request, signingKey) => verifyMailgunSignature(await signatureBlock(request), signingKey, request.receivedAt, config.MAILGUN_SIGNATURE_MAX_AGE_SEC),
    async (request) => {
      const { timestamp, token } = await signatureBlock(request);
      const { fields, files } = await formBody(request);
      return {
        token,
        contentDigest: mailgunContentDigest(fields, files),
        expiresAt: new Date((Number(timestamp) + config.MAILGUN_SIGNATURE_MAX_AGE_SEC) * 1000),
      };
    },
  ),
  body: { limitBytes: config.EMAIL_BODY_LIMIT_BYTES, contentTypes: ['application/x-www-form-urlencoded', 'multipart/form-data'] },
  parse: async (request) => {
    const { fields, files } = await formBody(request);
    return { messages: [await parseMailgunForm(fields, files, { receivedAt: request.receivedAt })], skipped: [] };
  },
  // Mailgun stops retrying on 406 alone (a 400 is retried for 8 h, and each retry refused again).
  malformedStatus: 406,
  answer: { kind: 'webhook-result' },
});
