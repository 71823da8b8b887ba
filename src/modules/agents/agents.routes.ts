import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { limitSchema } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { MANAGERS, STAFF } from '../auth/api-keys.models.js';
import { capacityOverrideSchema, capacityView, languageCode, presenceSchema } from '../routing/routing.schemas.js';
import type { AgentService } from './agents.service.js';

const tags = ['agents'];
const idParams = z.object({ id: z.uuid() });
const agentBody = z.object({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320),
  teamId: z.uuid().nullable().optional(),
  languages: z.array(languageCode).max(20).optional(),
  active: z.boolean().optional(),
  /** Routing (issue 13): per-channel overrides of the team's capacity (null: none), extra teams. */
  capacity: capacityOverrideSchema.nullable().optional(),
  teamIds: z.array(z.uuid()).max(50).optional(),
});
export const agentView = z.object({
  id: z.uuid(),
  name: z.string(),
  email: z.string(),
  teamId: z.uuid().nullable(),
  languages: z.array(z.string()),
  active: z.boolean(),
  teamIds: z.array(z.uuid()),
  presence: presenceSchema,
  presenceChangedAt: z.date().nullable(),
  lastActivityAt: z.date().nullable(),
  /** What routing uses: the agent's overrides over its team's defaults. */
  capacity: capacityView,
  capacityOverride: capacityOverrideSchema.nullable(),
  /** Tickets in status new or open, per channel. */
  load: capacityView,
  createdAt: z.date(),
  updatedAt: z.date(),
});
const agentPage = z.object({ items: z.array(agentView), nextCursor: z.string().nullable() });

export function registerAgentRoutes(app: App, deps: { guard: Guard; agents: AgentService }): void {
  const { guard, agents } = deps;

  app.post('/v1/agents', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Create an agent', security: bearerSecurity, body: agentBody, response: { 201: agentView, ...problemResponses(409) } },
    handler: async (request, reply) => reply.status(201).send(await agents.create(request.body)),
  });

  app.get('/v1/agents', {
    onRequest: guard(STAFF),
    schema: {
      tags,
      summary: 'List agents',
      security: bearerSecurity,
      querystring: z.object({ teamId: z.uuid().optional(), presence: presenceSchema.optional(), active: z.enum(['true', 'false']).optional(), limit: limitSchema, cursor: z.string().optional() }),
      response: { 200: agentPage, ...problemResponses() },
    },
    handler: async (request) => agents.list(request.query),
  });

  app.get('/v1/agents/:id', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'Read an agent', security: bearerSecurity, params: idParams, response: { 200: agentView, ...problemResponses(404) } },
    handler: async (request) => agents.get(request.params.id),
  });

  app.patch('/v1/agents/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Change an agent', security: bearerSecurity, params: idParams, body: agentBody.partial(), response: { 200: agentView, ...problemResponses(404, 409) } },
    handler: async (request) => agents.update(request.params.id, request.body),
  });

  app.delete('/v1/agents/:id', {
    onRequest: guard(MANAGERS),
    schema: {
      tags,
      summary: 'Deactivate an agent (kept, because tickets and messages name them)',
      security: bearerSecurity,
      params: idParams,
      response: { 200: agentView, ...problemResponses(404) },
    },
    handler: async (request) => agents.deactivate(request.params.id),
  });
}
