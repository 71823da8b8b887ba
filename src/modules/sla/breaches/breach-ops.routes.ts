import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CHANNELS } from '../../../channels/channel.types.js';
import { SLA_METRICS } from '../../../domain/sla/sla.types.js';
import type { Guard } from '../../../http/auth.js';
import { principalOf } from '../../../http/auth.js';
import { limitSchema } from '../../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../../http/types.js';
import { STAFF } from '../../auth/api-keys.models.js';
import type { BreachOpsService } from './breach-ops.service.js';
import { eventIdSchema, serveEventStream } from './event-stream.js';
import type { StreamHub } from './sla.stream.js';
import { BREACH_STATES } from '../sla.table.js';
import { ackBody, bodilessAckAsEmpty, breachView } from './breach.views.js';
import { streamTokenQuery } from '../../stream-tokens/stream-tokens.routes.js';

const tags = ['sla'];

/**
 * Everything of an acknowledgement route but its guard: the API's (any staff key) and the
 * wall's (the session cookie of a supervisor) take the same body and answer the same breach.
 */
export function acknowledgeRoute(breachOps: BreachOpsService, doc: { tags: string[]; summary: string }) {
  return {
    preValidation: bodilessAckAsEmpty,
    schema: {
      ...doc,
      security: bearerSecurity,
      params: z.object({ id: z.uuid() }),
      body: ackBody,
      response: { 200: breachView, ...problemResponses(404, 409) },
    },
    handler: async (request: FastifyRequest<{ Params: { id: string }; Body: z.infer<typeof ackBody> }>) => {
      const principal = principalOf(request);
      return breachOps.acknowledge(request.params.id, principal.agentId ?? principal.name, request.body?.note ?? null);
    },
  };
}
const csv = <T extends readonly [string, ...string[]]>(values: T) =>
  z.string().transform((raw) => raw.split(',').map((v) => v.trim()).filter(Boolean)).pipe(z.array(z.enum(values)).min(1));


const atRiskView = z.object({
  clockId: z.uuid(),
  ticketId: z.uuid(),
  ticketNumber: z.number().int(),
  channel: z.string(),
  priority: z.string(),
  assigneeId: z.uuid().nullable(),
  teamId: z.uuid().nullable(),
  metric: z.string(),
  dueAt: z.date(),
  remainingSec: z.number(),
});

const DURATION = /^(\d{1,6})(s|m|h|d)$/;
const UNIT_SEC: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };


export function registerBreachOpsRoutes(app: App, deps: { breachOps: BreachOpsService; guard: Guard; stream: StreamHub }): void {
  const { breachOps, guard } = deps;

  app.get('/v1/sla/breaches', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'The breach queue: most severe first, then oldest',
      security: bearerSecurity,
      querystring: z.object({
        state: csv(BREACH_STATES).default(['open']),
        channel: csv(CHANNELS).optional(),
        metric: csv([...SLA_METRICS, 'commitment'] as const).optional(),
        teamId: z.uuid().optional(),
        limit: limitSchema,
        cursor: z.string().max(500).optional(),
      }),
      response: { 200: z.object({ items: z.array(breachView), nextCursor: z.string().nullable() }), ...problemResponses() },
    },
    handler: async (request) => breachOps.queue(request.query),
  });

  app.post('/v1/sla/breaches/:id/ack', {
    onRequest: guard(STAFF),
    ...acknowledgeRoute(breachOps, { tags, summary: 'Acknowledge a breach: someone is on it' }),
  });

  app.get('/v1/sla/at-risk', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'Running clocks due soon (within=15m, 2h, 1d…), soonest first',
      security: bearerSecurity,
      querystring: z.object({
        within: z.string().regex(DURATION, 'a duration such as 30s, 15m, 2h or 1d').default('15m'),
        channel: csv(CHANNELS).optional(),
        teamId: z.uuid().optional(),
        limit: limitSchema,
      }),
      response: { 200: z.object({ items: z.array(atRiskView), nextCursor: z.null() }), ...problemResponses() },
    },
    handler: async (request) => {
      const { within, ...query } = request.query;
      const [, amount, unit] = DURATION.exec(within)!;
      return { items: await breachOps.atRisk({ ...query, withinSec: Number(amount) * UNIT_SEC[unit!]! }), nextCursor: null };
    },
  });

  app.get('/v1/sla/stream', {
    onRequest: guard(STAFF, { streamToken: 'sla' }),
    schema: {
      tags,
      summary: 'Server-sent events: warning, breach, escalation, acknowledged, resolved; resumable with Last-Event-ID',
      security: bearerSecurity,
      querystring: z.object({ lastEventId: eventIdSchema.optional(), token: streamTokenQuery }),
      headers: z.object({ 'last-event-id': eventIdSchema.optional() }),
    },
    handler: async (request, reply) => {
      // Replayed until caught up: a page limit left a gap between the last page and the live events (issue 15).
      await serveEventStream(deps.stream, request, reply, { resumeFrom: request.headers['last-event-id'] ?? request.query.lastEventId, nameOf: (event) => event.type, replayPages: Number.POSITIVE_INFINITY });
    },
  });
}
