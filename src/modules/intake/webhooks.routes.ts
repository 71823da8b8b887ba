import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { InboundAdapter, InboundRequest } from '../../channels/channel.adapter.js';
import { InvalidPayloadError } from '../../channels/channel.errors.js';
import { facebookVerifyChallenge } from '../../channels/facebook/facebook.signature.js';
import { CRC_TOKEN_PATTERN, twitterCrcResponse } from '../../channels/twitter/twitter.signature.js';
import type { Config } from '../../config.js';
import type { Guard } from '../../http/auth.js';
import { problemResponses, type App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { AppError, badRequest, serviceUnavailable, unauthorized } from '../../shared/errors.js';
import type { IntakeService } from './intake.service.js';

const tags = ['webhooks'];

export const webhookResult = z
  .object({
    received: z.number().int().describe('messages found in the payload'),
    created: z.number().int(),
    duplicates: z.number().int().describe('messages we already had: a redelivery creates nothing'),
    unthreaded: z.number().int().describe('automated mail (auto-replies, bounces) with no ticket to attach to: kept, opens nothing'),
    duplicatePayload: z.boolean(),
    tickets: z.array(z.object({ ticketId: z.uuid(), number: z.number().int(), newTicket: z.boolean() })),
    skipped: z.array(z.object({ reason: z.string(), ref: z.string().optional() })),
  })
  .meta({ id: 'WebhookResult' });

const TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
const RAW_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data', 'message/rfc822', 'text/plain'];
const API_KEY_PATHS = new Set(['email', 'phone/events']);

export function registerWebhookRoutes(
  app: App,
  deps: { config: Config; clock: Clock; intake: IntakeService; adapters: InboundAdapter[]; guard: Guard },
): void {
  const { config, clock, intake } = deps;

  // Webhooks verify signatures over the exact bytes received, so in this scope every body
  // stays a Buffer; adapters parse it after the signature is checked.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

    for (const adapter of deps.adapters) {
      const isEmail = adapter.path.startsWith('email');
      scope.post(`/webhooks/${adapter.path}`, {
        bodyLimit: isEmail ? config.EMAIL_BODY_LIMIT_BYTES : config.BODY_LIMIT_BYTES,
        // Providers retry on 429, and their payloads are signed: the rate limit is for API keys.
        config: { rateLimit: false },
        ...(API_KEY_PATHS.has(adapter.path) ? { onRequest: deps.guard(['integration', 'admin']) } : {}),
        schema: {
          tags,
          summary: `Inbound ${adapter.path.replace('/', ' ')} webhook`,
          description: API_KEY_PATHS.has(adapter.path)
            ? 'Authenticated by an integration API key (Authorization: Bearer).'
            : `Authenticated by the provider's signature; 503 until ${adapter.requiredSetting} is set.`,
          ...(API_KEY_PATHS.has(adapter.path) ? { security: [{ bearerAuth: [] }] } : {}),
          response: adapter.path === 'phone/twilio' ? problemResponses(413, 415, 422, 503) : { 200: webhookResult, ...problemResponses(413, 415, 422, 503) },
        },
        handler: async (request, reply) => receive(adapter, request, reply),
      });
    }
  });

  async function receive(adapter: InboundAdapter, request: FastifyRequest, reply: FastifyReply) {
    if (!adapter.configured) {
      throw serviceUnavailable('channel-not-configured', `The ${adapter.path} webhook is off: set ${adapter.requiredSetting} to turn it on.`);
    }
    const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (rawBody.length === 0) throw badRequest('body', 'is empty');
    const inbound: InboundRequest = {
      rawBody,
      contentType: request.headers['content-type'],
      headers: request.headers,
      publicUrl: publicUrlOf(request, config.PUBLIC_BASE_URL),
      receivedAt: clock.now(),
    };
    if (!(await adapter.verify(inbound))) throw unauthorized(`The ${adapter.path} signature is missing or does not match.`);
    if (adapter.deliveryToken && !(await intake.claimDeliveryToken(adapter.channel, await adapter.deliveryToken(inbound)))) {
      // A valid signature already used for other content: a captured one replayed on a forged
      // body. Nothing is stored; a redelivery of the same content is not refused (see claimDeliveryToken).
      request.log.warn({ channel: adapter.channel }, 'webhook signature token replayed with other content');
      throw new AppError(403, 'signature-replayed', 'Forbidden', 'This signature token was already used for other content.', [
        { field: 'body.token', message: 'already used for other content' },
      ]);
    }
    const raw = { channel: adapter.channel, body: rawBody, contentType: inbound.contentType };
    let parsed;
    try {
      parsed = await adapter.parse(inbound);
    } catch (error) {
      if (!(error instanceof InvalidPayloadError)) {
        // A parser that throws anything else met input it was not written for: the same bytes
        // will fail the same way on every retry. Kept for replay after a fix; still a 500.
        await intake.deadLetter(raw, `parser failed: ${(error as Error).message ?? String(error)}`, null);
        throw error;
      }
      // Malformed input is kept with the reason and refused with a 4xx, so the provider's
      // retries are not spent on a payload that will never parse.
      await intake.deadLetter(raw, error.message, error.field);
      throw error;
    }
    let result;
    try {
      result = await intake.ingest(raw, parsed);
    } catch (error) {
      if (!isDataException(error)) throw error;
      // Postgres refused a value (class 22: out of range, bad encoding…). Deterministic: every
      // retry would fail the same way and the payload would be lost after the last one. It is
      // kept as a dead letter and refused with a 422 instead.
      await intake.deadLetter(raw, `refused by the database: ${(error as Error).message}`, null);
      request.log.error({ err: error, channel: adapter.channel }, 'webhook payload refused by the database: dead-lettered');
      throw new AppError(422, 'unprocessable-payload', 'Unprocessable payload', 'The payload holds a value the database cannot store; it was kept as a dead letter.');
    }
    request.log.info({ channel: adapter.channel, outcomes: result.messages.map((m) => m.result) }, 'webhook ingested');
    if (adapter.path === 'phone/twilio') return reply.type('text/xml').send(TWIML_EMPTY);
    const created = result.messages.filter((m) => m.result === 'created');
    return {
      received: result.messages.length,
      created: created.length,
      duplicates: result.messages.filter((m) => m.result === 'duplicate').length,
      unthreaded: result.messages.filter((m) => m.result === 'stored-unthreaded').length,
      duplicatePayload: result.duplicatePayload,
      tickets: created.map((m) => ({ ticketId: m.ticketId, number: m.ticketNumber, newTicket: m.newTicket })),
      skipped: result.skipped.map((s) => (s.ref === undefined ? { reason: s.reason } : { reason: s.reason, ref: s.ref })),
    };
  }

  app.get('/webhooks/facebook', {
    config: { rateLimit: false },
    schema: {
      tags,
      summary: 'Facebook verification handshake (hub.mode, hub.verify_token, hub.challenge)',
      querystring: z.record(z.string(), z.unknown()),
      response: { 200: z.string(), ...problemResponses(503) },
    },
    handler: async (request, reply) => {
      if (!config.FACEBOOK_VERIFY_TOKEN) throw serviceUnavailable('channel-not-configured', 'Set FACEBOOK_VERIFY_TOKEN to answer the Facebook handshake.');
      const challenge = facebookVerifyChallenge(request.query, config.FACEBOOK_VERIFY_TOKEN);
      if (challenge === null) throw new AppError(403, 'verify-token-mismatch', 'Forbidden', 'hub.verify_token does not match, or hub.mode is not subscribe.', [{ field: 'query.hub.verify_token', message: 'does not match' }]);
      return reply.type('text/plain').serializer((s: unknown) => String(s)).send(challenge);
    },
  });

  app.get('/webhooks/twitter', {
    config: { rateLimit: false },
    schema: {
      tags,
      summary: 'X (Twitter) CRC challenge: response_token = sha256= base64 HMAC-SHA256(consumer secret, crc_token)',
      // Only token-shaped values are signed: anything else would make this a signing oracle
      // for forged POST bodies (see CRC_TOKEN_PATTERN).
      querystring: z.object({
        crc_token: z.string().regex(CRC_TOKEN_PATTERN, 'must be 1 to 128 base64 or base64url characters, as X sends'),
      }),
      response: { 200: z.object({ response_token: z.string() }), ...problemResponses(503) },
    },
    handler: async (request) => {
      if (!config.TWITTER_CONSUMER_SECRET) throw serviceUnavailable('channel-not-configured', 'Set TWITTER_CONSUMER_SECRET to answer the X CRC challenge.');
      return twitterCrcResponse(request.query.crc_token, config.TWITTER_CONSUMER_SECRET);
    },
  });
}

/** A Postgres data exception (SQLSTATE class 22), wrapped or not by drizzle. */
function isDataException(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^22[0-9A-Z]{3}$/.test(e.code)) return true;
  }
  return false;
}

/** The URL the provider signed: behind a proxy only PUBLIC_BASE_URL knows the outside name. */
export function publicUrlOf(request: FastifyRequest, publicBaseUrl: string | undefined): string {
  const base = publicBaseUrl ?? `${request.protocol}://${request.host}`;
  return `${base.replace(/\/$/, '')}${request.url}`;
}
