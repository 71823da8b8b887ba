import { z } from 'zod';
import { principalOf, type Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { forbidden } from '../../shared/errors.js';
import { STAFF_AND_INTEGRATIONS } from '../auth/api-keys.models.js';
import { STREAM_PURPOSE_NAMES, STREAM_PURPOSES, STREAM_TOKEN_TTL_MS, type StreamTokens } from './stream-tokens.js';

const body = z.object({
  stream: z.enum(STREAM_PURPOSE_NAMES).describe(`The stream the token opens: ${STREAM_PURPOSE_NAMES.map((p) => `${p} (${STREAM_PURPOSES[p].path})`).join(', ')}`),
});

const view = z
  .object({
    token: z.string().describe('Pass as ?token= to the stream; good for 60 seconds and for this stream only'),
    stream: z.enum(STREAM_PURPOSE_NAMES),
    url: z.string().describe('The stream path with the token, ready for new EventSource(url)'),
    expiresAt: z.iso.datetime(),
  })
  .meta({ id: 'StreamToken' });

/** The query parameter the streams accept (see their routes' querystring). */
export const streamTokenQuery = z
  .string()
  .max(2048)
  .optional()
  .describe('A stream token from POST /v1/stream-tokens, for clients that cannot send an Authorization header (EventSource)');

export function registerStreamTokenRoutes(app: App, deps: { guard: Guard; streamTokens: StreamTokens }): void {
  app.post('/v1/stream-tokens', {
    onRequest: deps.guard(STAFF_AND_INTEGRATIONS),
    config: { answerHoldsSecret: true },
    schema: {
      tags: ['streams'],
      summary: 'A short-lived token for one event stream, for EventSource (which cannot send Authorization)',
      description: `Answers a token good for ${STREAM_TOKEN_TTL_MS / 1000} seconds that opens only the named stream as the calling key (GET <stream>?token=…). The stream stays open after the token expires; a reconnect needs a new token (send lastEventId to resume).`,
      security: bearerSecurity,
      body,
      response: { 201: view, ...problemResponses() },
    },
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const purpose = request.body.stream;
      if (!(STREAM_PURPOSES[purpose].roles as readonly string[]).includes(principal.role)) {
        throw forbidden(`The ${purpose} stream is not open to role ${principal.role}.`);
      }
      const { token, expiresAt } = await deps.streamTokens.issue(principal, purpose);
      void reply.code(201).header('cache-control', 'no-store');
      return { token, stream: purpose, url: `${STREAM_PURPOSES[purpose].path}?token=${encodeURIComponent(token)}`, expiresAt: expiresAt.toISOString() };
    },
  });
}
