import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { z } from 'zod';
import type { ChannelAdapter, Handshake, InboundRequest, ParsedInbound, WebhookAuthentication } from '../../channels/channel.adapter.js';
import { InvalidPayloadError } from '../../channels/channel.errors.js';
import type { Config } from '../../config.js';
import type { AuthFailureLimiter } from '../../http/auth-failures.js';
import type { Guard } from '../../http/auth.js';
import { problemResponses, type App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { AppError, badRequest, serviceUnavailable, unauthorized } from '../../shared/errors.js';
import { describeError } from '../../shared/error-description.js';
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

/**
 * How a request to one adapter's endpoint is authenticated, derived from its declaration alone:
 * an API-key adapter always gets the guard, a signature adapter always runs verify (and claims
 * its replay token) before its body is parsed. No other list decides it.
 */
interface MountedAuthentication {
  onRequest?: onRequestHookHandler;
  description: string;
  security?: { bearerAuth: never[] }[];
  /** Runs after the body is read, before it is parsed; throws the 401/403 problem. */
  authenticate(inbound: InboundRequest, request: FastifyRequest): Promise<void>;
}

export function registerWebhookRoutes(
  app: App,
  deps: { config: Config; clock: Clock; intake: IntakeService; adapters: readonly ChannelAdapter[]; guard: Guard; failures?: AuthFailureLimiter | undefined },
): void {
  const { config, clock, intake, failures } = deps;

  function mountedAuthentication(adapter: ChannelAdapter): MountedAuthentication {
    const auth: WebhookAuthentication = adapter.auth;
    switch (auth.kind) {
      case 'api-key':
        return {
          onRequest: deps.guard(auth.roles),
          description: 'Authenticated by an integration API key (Authorization: Bearer).',
          security: [{ bearerAuth: [] }],
          // The guard ran in onRequest, before the body was even read; a request that reaches
          // the handler without its principal was never guarded, and is refused.
          authenticate: async (_inbound, request) => {
            if (!request.principal) throw unauthorized();
          },
        };
      case 'signature':
        return {
          description: `Authenticated by the provider's signature; 503 until ${adapter.requiredSetting} is set.`,
          // Failed signatures count per address like wrong API keys (AUTH_FAILURES_PER_MINUTE):
          // past the limit the body is not even read, let alone parsed (a 25 MB form costs memory
          // and CPU before its signature can be checked). A read, then a count on failure, not
          // the guard's attempt()/release(): a provider's burst of genuine deliveries from one
          // address would otherwise spend the budget while in flight and be refused.
          ...(failures ? { onRequest: refuseFailingAddresses(failures) } : {}),
          authenticate: async (inbound, request) => {
            if (!(await auth.verify(inbound))) {
              await failures?.record(request.ip);
              throw unauthorized(`The ${adapter.path} signature is missing or does not match.`);
            }
            if (auth.replayToken && !(await intake.claimDeliveryToken(adapter.channel, await auth.replayToken(inbound), inbound.receivedAt))) {
              // A valid signature already used for other content: a captured one replayed on a forged
              // body. Nothing is stored; a redelivery of the same content is not refused (see claimDeliveryToken).
              await failures?.record(request.ip);
              request.log.warn({ channel: adapter.channel }, 'webhook signature token replayed with other content');
              throw new AppError(403, 'signature-replayed', 'Forbidden', 'This signature token was already used for other content.', [
                { field: 'body.token', message: 'already used for other content' },
              ]);
            }
          },
        };
      default:
        return unreachable(auth);
    }
  }

  // Webhooks verify signatures over the exact bytes received, so every body stays a Buffer and
  // adapters parse it after authentication. Each adapter gets its own scope: its media types only.
  for (const adapter of deps.adapters) {
    void app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser([...adapter.body.contentTypes], { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      const auth = mountedAuthentication(adapter);
      scope.post(`/webhooks/${adapter.path}`, {
        bodyLimit: adapter.body.limitBytes,
        // Providers retry on 429, and their payloads are signed: the rate limit is for API keys.
        config: { rateLimit: false },
        ...(auth.onRequest ? { onRequest: auth.onRequest } : {}),
        schema: {
          tags,
          summary: `Inbound ${adapter.path.replace('/', ' ')} webhook`,
          description: auth.description,
          ...(auth.security ? { security: auth.security } : {}),
          response:
            adapter.answer.kind === 'webhook-result'
              ? { 200: webhookResult, ...problemResponses(413, 415, 422, 503, ...(adapter.malformedStatus ? [adapter.malformedStatus] : [])) }
              : problemResponses(413, 415, 422, 503, ...(adapter.malformedStatus ? [adapter.malformedStatus] : [])),
        },
        handler: async (request, reply) => receive(adapter, auth, request, reply),
      });
      if (adapter.handshake) mountHandshake(scope, adapter.path, adapter.handshake);
    });
  }

  async function receive(adapter: ChannelAdapter, auth: MountedAuthentication, request: FastifyRequest, reply: FastifyReply) {
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
    await auth.authenticate(inbound, request);
    const raw = { channel: adapter.channel, body: rawBody, contentType: inbound.contentType };
    let parsed: ParsedInbound;
    try {
      parsed = await adapter.parse(inbound);
    } catch (error) {
      if (!(error instanceof InvalidPayloadError)) {
        // A parser that throws anything else met input it was not written for: the same bytes
        // will fail the same way on every retry. Kept for replay after a fix; still a 500.
        await intake.deadLetter(raw, `parser failed: ${describeError(error)}`, null);
        throw error;
      }
      // Malformed input is kept with the reason and refused with a 4xx, so the provider's
      // retries are not spent on a payload that will never parse: in the status the provider
      // reads as "do not retry" where it has one (Mailgun: 406).
      await intake.deadLetter(raw, error.message, error.field);
      if (adapter.malformedStatus) {
        throw new AppError(adapter.malformedStatus, 'invalid-payload', 'Invalid payload', `${error.field}: ${error.message}`, [{ field: error.field, message: error.message }]);
      }
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
      await intake.deadLetter(raw, `refused by the database: ${describeError(error)}`, null);
      request.log.error({ err: error, channel: adapter.channel }, 'webhook payload refused by the database: dead-lettered');
      throw new AppError(422, 'unprocessable-payload', 'Unprocessable payload', 'The payload holds a value the database cannot store; it was kept as a dead letter.');
    }
    request.log.info({ channel: adapter.channel, outcomes: result.messages.map((m) => m.result) }, 'webhook ingested');
    if (adapter.answer.kind === 'fixed') return reply.type(adapter.answer.contentType).send(adapter.answer.body);
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

  function mountHandshake(scope: App, path: string, handshake: Handshake): void {
    scope.get(`/webhooks/${path}`, {
      config: { rateLimit: false },
      schema: {
        tags,
        summary: handshake.summary,
        querystring: handshake.querystring,
        response: { 200: handshake.response, ...problemResponses(503) },
      },
      handler: async (request, reply) => {
        const secret = config[handshake.requiredSetting];
        if (!secret) throw serviceUnavailable('channel-not-configured', `Set ${handshake.requiredSetting} to ${handshake.purpose}.`);
        const answer = handshake.answer(request.query as Record<string, unknown>, secret);
        switch (answer.kind) {
          case 'text':
            return reply.type('text/plain').serializer((s: unknown) => String(s)).send(answer.body);
          case 'json':
            return answer.body;
          case 'refused':
            throw new AppError(403, answer.code, 'Forbidden', answer.detail, [{ field: answer.field, message: answer.message }]);
          default:
            return unreachable(answer);
        }
      },
    });
  }
}

/** 429 before the body is read for an address past its budget of failed authentications. */
function refuseFailingAddresses(failures: AuthFailureLimiter): onRequestHookHandler {
  return async function refuseFailingAddress(request, reply) {
    const waitMs = await failures.blockedFor(request.ip);
    if (waitMs <= 0) return;
    const seconds = Math.ceil(waitMs / 1000);
    void reply.header('retry-after', String(seconds));
    throw new AppError(429, 'too-many-failed-authentications', 'Too many requests', `Too many failed authentications from this address; retry in ${seconds} s.`, [
      { field: 'signature', message: 'too many failed signatures from this address' },
    ]);
  };
}

function unreachable(value: never): never {
  throw new Error(`unhandled variant ${JSON.stringify(value)}`);
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
