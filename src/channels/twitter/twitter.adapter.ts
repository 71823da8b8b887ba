import { z } from 'zod';
import { headerValue, signedWith, type AdapterDefinition } from '../channel.adapter.js';
import { jsonBody } from '../request-body.js';
import { parseTwitterWebhook } from './twitter.parser.js';
import { createTwitterSender } from './twitter.sender.js';
import { CRC_TOKEN_PATTERN, isCrcTokenShaped, twitterCrcResponse, verifyTwitterSignature } from './twitter.signature.js';

/** X Account Activity deliveries (POST /webhooks/twitter), signed with the consumer secret. */
export const twitterAdapter: AdapterDefinition = (config) => ({
  channel: 'twitter',
  ...signedWith(config, 'TWITTER_CONSUMER_SECRET', (request, secret) =>
    verifyTwitterSignature(request.rawBody, headerValue(request, 'x-twitter-webhooks-signature'), secret),
  ),
  body: { limitBytes: config.BODY_LIMIT_BYTES, contentTypes: ['application/json'] },
  parse: async (request) => parseTwitterWebhook(jsonBody(request), { receivedAt: request.receivedAt, defaultRegion: config.DEFAULT_PHONE_REGION }),
  answer: { kind: 'webhook-result' },
  handshake: {
    summary: 'X (Twitter) CRC challenge: response_token = sha256= base64 HMAC-SHA256(consumer secret, crc_token)',
    requiredSetting: 'TWITTER_CONSUMER_SECRET',
    purpose: 'answer the X CRC challenge',
    // Only token-shaped values are signed: anything else would make this a signing oracle
    // for forged POST bodies (see isCrcTokenShaped).
    querystring: z.object({
      crc_token: z
        .string()
        .regex(CRC_TOKEN_PATTERN, 'must be 16 to 128 base64 or base64url characters, as X sends')
        .refine(isCrcTokenShaped, 'must not be JSON (a number, true, false or null)'),
    }),
    response: z.object({ response_token: z.string() }),
    answer: (query, consumerSecret) => {
      const token = String(query.crc_token);
      // The schema already refused anything else; checked again so no other caller can sign a body.
      if (!isCrcTokenShaped(token)) {
        return { kind: 'refused', code: 'invalid-crc-token', detail: 'crc_token is not token-shaped.', field: 'query.crc_token', message: 'must be 16 to 128 base64 or base64url characters that are not JSON' };
      }
      return { kind: 'json', body: twitterCrcResponse(token, consumerSecret) };
    },
  },
  createSender: () =>
    config.TWITTER_BEARER_TOKEN ? { sender: createTwitterSender({ apiUrl: config.TWITTER_API_URL, bearerToken: config.TWITTER_BEARER_TOKEN }) } : null,
});
