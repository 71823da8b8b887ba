import type { AdapterDefinition } from '../channel.adapter.js';
import { createEmailSender } from './email.sender.js';
import { parseEmail } from './email.parser.js';

/**
 * Raw RFC 5322 mail from an MTA pipe or relay (POST /webhooks/email). Nothing signs raw mail,
 * so the relay holds an integration API key. Owns the e-mail channel's SMTP sender.
 */
export const rawEmailAdapter: AdapterDefinition = (config) => ({
  channel: 'email',
  requiredSetting: null,
  configured: true,
  auth: { kind: 'api-key', roles: ['integration', 'admin'] },
  body: { limitBytes: config.EMAIL_BODY_LIMIT_BYTES, contentTypes: ['message/rfc822', 'text/plain'] },
  parse: async (request) => ({ messages: [await parseEmail(request.rawBody, { receivedAt: request.receivedAt })], skipped: [] }),
  answer: { kind: 'webhook-result' },
  createSender: () => {
    if (!config.SMTP_URL) return null;
    const sender = createEmailSender({ smtpUrl: config.SMTP_URL, from: config.EMAIL_FROM, messageIdDomain: config.EMAIL_MESSAGE_ID_DOMAIN });
    return { sender, close: () => sender.close() };
  },
});
