import { z } from 'zod';
import { eventIdSchema } from '../sla/breaches/event-stream.js';
import { principalOf, type Guard } from '../../http/auth.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { AppError } from '../../shared/errors.js';
import { agentView } from '../agents/agents.routes.js';
import { MANAGERS, STAFF } from '../auth/api-keys.models.js';
import { ticketView } from '../tickets/tickets.schemas.js';
import type { StreamHub } from '../sla/breaches/sla.stream.js';
import { streamAgentEvents } from './agent-stream.js';
import type { RoutingService } from './routing.service.js';
import { capacityOverrideSchema, capacityView, presenceBody, routingQueuesView, routingSettingsSchema, routingSettingsView } from './routing.schemas.js';
import { streamTokenQuery } from '../stream-tokens/stream-tokens.routes.js';

const idParams = z.object({ id: z.uuid() });
const settingsView = z.object({ routing: routingSettingsView, capacity: capacityView });


export function registerRoutingRoutes(app: App, deps: { guard: Guard; routing: RoutingService; stream: StreamHub }): void {
  const { guard, routing } = deps;

  app.get('/v1/me/stream', {
    onRequest: guard(STAFF, { streamToken: 'me' }),
    schema: {
      tags: ['agents'],
      summary: "Server-sent events for the calling key's agent: assigned, unassigned (routed, pulled, manual or by escalation); resumable with Last-Event-ID",
      security: bearerSecurity,
      querystring: z.object({ lastEventId: eventIdSchema.optional(), token: streamTokenQuery }),
      headers: z.object({ 'last-event-id': eventIdSchema.optional() }),
    },
    handler: async (request, reply) => {
      const me = await routing.me(principalOf(request));
      await streamAgentEvents(deps.stream, me.id, request.headers['last-event-id'] ?? request.query.lastEventId, request, reply);
    },
  });

  app.get('/v1/me', {
    onRequest: guard(STAFF),
    schema: { tags: ['agents'], summary: "The calling key's agent, with presence, capacity and load", security: bearerSecurity, response: { 200: agentView, ...problemResponses(404) } },
    handler: async (request) => routing.me(principalOf(request)),
  });

  app.put('/v1/me/presence', {
    onRequest: guard(STAFF),
    schema: { tags: ['agents'], summary: "Set the calling key's agent online, away or offline", security: bearerSecurity, body: presenceBody, response: { 200: agentView, ...problemResponses(404) } },
    handler: async (request) => routing.setMyPresence(principalOf(request), request.body.status),
  });

  app.put('/v1/agents/:id/presence', {
    onRequest: guard(STAFF),
    schema: {
      tags: ['agents'],
      summary: "Set an agent's presence (supervisors for anyone; an agent's key for its own agent)",
      security: bearerSecurity,
      params: idParams,
      body: presenceBody,
      response: { 200: agentView, ...problemResponses(403, 404) },
    },
    handler: async (request) => {
      const principal = principalOf(request);
      const id = request.params.id.toLowerCase();
      if (principal.role === 'agent' && principal.agentId !== id) {
        throw new AppError(403, 'forbidden', 'Forbidden', "An agent's key sets only its own agent's presence.", [{ field: 'params.id', message: 'not the agent of this key' }]);
      }
      return routing.setPresence(id, request.body.status, 'manual');
    },
  });

  app.post('/v1/me/next', {
    onRequest: guard(STAFF),
    schema: {
      tags: ['agents'],
      summary: 'Pull: take the best waiting ticket of your queues that you may take now (204 when there is none)',
      security: bearerSecurity,
      response: { 200: ticketView, 204: z.null(), ...problemResponses(403, 409) },
    },
    handler: async (request, reply) => {
      const ticket = await routing.next(principalOf(request));
      return ticket ? ticket : reply.status(204).send(null);
    },
  });

  app.get('/v1/routing/queues', {
    onRequest: guard(STAFF),
    schema: {
      tags: ['routing'],
      summary: 'Waiting tickets per team, channel and language (count, longest wait, soonest SLA due); agents with presence, load and capacity',
      security: bearerSecurity,
      response: {
        200: routingQueuesView,
        ...problemResponses(),
      },
    },
    handler: async () => routing.queues(),
  });

  app.get('/v1/routing/settings', {
    onRequest: guard(STAFF),
    schema: { tags: ['routing'], summary: 'Routing settings and default capacity of the default queue (tickets with no team)', security: bearerSecurity, response: { 200: settingsView, ...problemResponses() } },
    handler: async () => routing.settings(),
  });

  app.put('/v1/routing/settings', {
    onRequest: guard(MANAGERS),
    schema: {
      tags: ['routing'],
      summary: 'Change the default queue\'s routing settings or default capacity (keys left out keep their values)',
      security: bearerSecurity,
      body: z.strictObject({ routing: routingSettingsSchema.optional(), capacity: capacityOverrideSchema.nullable().optional() }),
      response: { 200: settingsView, ...problemResponses() },
    },
    handler: async (request) => routing.updateSettings(request.body),
  });
}
