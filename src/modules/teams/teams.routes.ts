import { asc, eq, gt } from 'drizzle-orm';
import { z } from 'zod';
import type { Database } from '../../db/client.js';
import { uniqueOrConflict } from '../../db/unique.js';
import type { Guard } from '../../http/auth.js';
import { cursorKeys, decodeCursor, limitSchema, toPage } from '../../http/pagination.js';
import { bearerSecurity, problemResponses, type App } from '../../http/types.js';
import type { Clock } from '../../shared/clock.js';
import { notFound } from '../../shared/errors.js';
import { requireAgent } from '../agents/agents.repository.js';
import { MANAGERS, STAFF } from '../auth/api-keys.models.js';
import { teams } from './teams.table.js';

const tags = ['teams'];
const idParams = z.object({ id: z.uuid() });
const teamBody = z.object({ name: z.string().trim().min(1).max(200), leadAgentId: z.uuid().nullable().optional() });
const teamView = z.object({ id: z.uuid(), name: z.string(), leadAgentId: z.uuid().nullable(), createdAt: z.date(), updatedAt: z.date() });
const teamPage = z.object({ items: z.array(teamView), nextCursor: z.string().nullable() });


export function registerTeamRoutes(app: App, deps: { db: Database; clock: Clock; guard: Guard }): void {
  const { db, clock, guard } = deps;

  app.post('/v1/teams', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Create a team', security: bearerSecurity, body: teamBody, response: { 201: teamView, ...problemResponses(409) } },
    handler: async (request, reply) => {
      if (request.body.leadAgentId) await requireAgent(db, request.body.leadAgentId, 'body.leadAgentId');
      const now = clock.now();
      return uniqueOrConflict(async () => {
        const [row] = await db.insert(teams).values({ name: request.body.name, leadAgentId: request.body.leadAgentId ?? null, createdAt: now, updatedAt: now }).returning();
        return reply.status(201).send(row!);
      }, `A team named "${request.body.name}" exists`);
    },
  });

  app.get('/v1/teams', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'List teams', security: bearerSecurity, querystring: z.object({ limit: limitSchema, cursor: z.string().optional() }), response: { 200: teamPage, ...problemResponses() } },
    handler: async (request) => {
      const cursor = decodeCursor(request.query.cursor, cursorKeys.uuid);
      const rows = await db.select().from(teams).where(cursor ? gt(teams.id, cursor.id) : undefined).orderBy(asc(teams.id)).limit(request.query.limit + 1);
      return toPage(rows, request.query.limit, (r) => ({ v: r.id, id: r.id }), (r) => r);
    },
  });

  app.get('/v1/teams/:id', {
    onRequest: guard(STAFF),
    schema: { tags, summary: 'Read a team', security: bearerSecurity, params: idParams, response: { 200: teamView, ...problemResponses(404) } },
    handler: async (request) => {
      const [row] = await db.select().from(teams).where(eq(teams.id, request.params.id));
      if (!row) throw notFound('Team', request.params.id);
      return row;
    },
  });

  app.patch('/v1/teams/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Rename a team or change its lead', security: bearerSecurity, params: idParams, body: teamBody.partial(), response: { 200: teamView, ...problemResponses(404, 409) } },
    handler: async (request) => {
      if (request.body.leadAgentId) await requireAgent(db, request.body.leadAgentId, 'body.leadAgentId');
      return uniqueOrConflict(async () => {
        const [row] = await db.update(teams).set({ ...request.body, updatedAt: clock.now() }).where(eq(teams.id, request.params.id)).returning();
        if (!row) throw notFound('Team', request.params.id);
        return row;
      }, `A team named "${request.body.name}" exists`);
    },
  });

  app.delete('/v1/teams/:id', {
    onRequest: guard(MANAGERS),
    schema: { tags, summary: 'Delete a team (its tickets and agents keep working, unassigned from it)', security: bearerSecurity, params: idParams, response: { 204: z.null(), ...problemResponses(404) } },
    handler: async (request, reply) => {
      const [row] = await db.delete(teams).where(eq(teams.id, request.params.id)).returning({ id: teams.id });
      if (!row) throw notFound('Team', request.params.id);
      return reply.status(204).send(null);
    },
  });
}

