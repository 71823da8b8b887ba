import { z } from 'zod';
import { headerValue, signedWith, type AdapterDefinition } from '../channel.adapter.js';
import { jsonBody } from '../request-body.js';
import { parseFacebookWebhook } from './facebook.parser.js';
import { createFacebookSender } from './facebook.sender.js';
import { facebookVerifyChallenge, verifyFacebookSignature } from './facebook.signature.js';

/** Messenger and Page feed webhooks (POST /webhooks/facebook), signed with the app secret. */
export const facebookAdapter: AdapterDefinition = (config) => ({
  channel: 'facebook',
  ...signedWith(config, 'FACEBOOK_APP_SECRET', (request, secret) => verifyFacebookSignature(request.rawBody, headerValue(request, 'x-hub-signature-256'), secret)),
  body: { limitBytes: config.BODY_LIMIT_BYTES, contentTypes: ['application/json'] },
  parse: async (request) =>
    parseFacebookWebhook(jsonBody(request), { appId: config.FACEBOOK_APP_ID, receivedAt: request.receivedAt, defaultRegion: config.DEFAULT_PHONE_REGION }),
  answer: { kind: 'webhook-result' },
  handshake: {
    summary: 'Facebook verification handshake (hub.mode, hub.verify_token, hub.challenge)',
    requiredSetting: 'FACEBOOK_VERIFY_TOKEN',
    purpose: 'answer the Facebook handshake',
    // Meta's dotted names ("hub.mode") arrive flat or nested depending on the query parser:
    // named here for the document, loose so that a nested form still reaches the check.
    querystring: z
      .object({
        'hub.mode': z.string().optional().describe('Always "subscribe"'),
        'hub.verify_token': z.string().optional().describe('The FACEBOOK_VERIFY_TOKEN entered in the app dashboard'),
        'hub.challenge': z.string().optional().describe('Echoed back in the body when the token matches'),
      })
      .loose(),
    response: z.string(),
    answer: (query, verifyToken) => {
      const challenge = facebookVerifyChallenge(query, verifyToken);
      return challenge === null
        ? {
            kind: 'refused',
            code: 'verify-token-mismatch',
            detail: 'hub.verify_token does not match, or hub.mode is not subscribe.',
            field: 'query.hub.verify_token',
            message: 'does not match',
          }
        : { kind: 'text', body: challenge };
    },
  },
  createSender: () =>
    config.FACEBOOK_PAGE_ACCESS_TOKEN
      ? { sender: createFacebookSender({ graphUrl: config.FACEBOOK_GRAPH_URL, pageAccessToken: config.FACEBOOK_PAGE_ACCESS_TOKEN }) }
      : null,
});
