import { z } from 'zod';
import type { Guard } from '../../http/auth.js';
import { limitSchema } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import { MANAGERS, STAFF } from '../auth/api-keys.models.js';
import { capacityOverrideSchema, capacityView, routingSettingsSchema, routingSettingsView } from '../routing/routing.schemas.js';
import type { TeamService } from './teams.service.js';

const tags = ['teams'];
const idParams = z.object({ id: z.uuid() });
const teamBody = z.object({
  name: z.string().trim().min(1).max(200),
  leadAgentId: z.uuid().nullable().optional(),
  /** Routing (issue 13): default capacity per channel for its agents, and its routing settings (keys left out keep their values). */
  capacity: capacityOverrideSchema.nullable().optional(),
  routing: routingSettingsSchema.optional(),
  requireReasonOnSolve: z.boolean().optional().describe('Issue 16: solving a ticket of this team needs a complaint reason (a leaf of the tree); default false'),
});
const teamView = z.object({
  id: z.uuid(),
  name: z.string(),
  leadAgentId: z.uuid().nullable(),
  capacity: capacityView,
  routing: routingSettingsView,
  requireReasonOnSolve: z.boolean(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
const teamPage = z.object({ items: z.array(teamView), nextCursor: z.string().nullable() });


export function registerTeamRoutes(app: App, deps: { guard: Guard; teams: TeamService }): void {
  const { guard, teams } = deps;

  app.post('/v1/teams', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Create a team', security: bearerSecurity, body: teamBody, response: { 201: teamView, ...problemResponses(409) } },
    handler: async (request, reply) => reply.status(201).send(await teams.create(request.body)),
  });

  app.get('/v1/teams', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'List teams', security: bearerSecurity, querystring: z.object({ limit: limitSchema, cursor: z.string().optional() }), response: { 200: teamPage, ...problemResponses() } },
    handler: async (request) => teams.list(request.query),
  });

  app.get('/v1/teams/:id', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'Read a team', security: bearerSecurity, params: idParams, response: { 200: teamView, ...problemResponses(404) } },
    handler: async (request) => teams.get(request.params.id),
  });

  app.patch('/v1/teams/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Rename a team, change its lead, its capacity defaults or its routing', security: bearerSecurity, params: idParams, body: teamBody.partial(), response: { 200: teamView, ...problemResponses(404, 409) } },
    handler: async (request) => teams.update(request.params.id, request.body),
  });

  app.delete('/v1/teams/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Delete a team (its tickets and agents keep working, unassigned from it)', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404) } },
    handler: async (request, reply) => {
      await teams.delete(request.params.id);
      return reply.status(204).send(null);
    },
  });
}

